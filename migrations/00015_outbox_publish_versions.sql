-- +goose Up
-- Writers no longer take a config version (which needed one lock held from
-- version to commit, serialising every configuration write): each outbox
-- row gets a change sequence number, and the publisher assigns the config
-- versions when it sees the rows committed, one assigner at a time, so
-- versions still only ever grow in the order changes became visible.
ALTER TABLE config_outbox ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME config_change_seq);
ALTER TABLE config_outbox DROP CONSTRAINT config_outbox_pkey;
ALTER TABLE config_outbox ALTER COLUMN version DROP NOT NULL;
ALTER TABLE config_outbox ADD PRIMARY KEY (seq);
CREATE UNIQUE INDEX config_outbox_version_key ON config_outbox (version);
CREATE INDEX config_outbox_unversioned_idx ON config_outbox (seq) WHERE version IS NULL;

-- +goose Down
UPDATE config_outbox SET version = nextval('config_version') WHERE version IS NULL;
DROP INDEX config_outbox_unversioned_idx;
DROP INDEX config_outbox_version_key;
ALTER TABLE config_outbox DROP CONSTRAINT config_outbox_pkey;
ALTER TABLE config_outbox DROP COLUMN seq;
ALTER TABLE config_outbox ALTER COLUMN version SET NOT NULL;
ALTER TABLE config_outbox ADD PRIMARY KEY (version);
