-- +goose Up
-- The publisher's progress, readable by every replica (one row).
CREATE TABLE snapshot_state (
    id                  integer     PRIMARY KEY CHECK (id = 1),
    published_version   bigint      NOT NULL DEFAULT 0,
    last_publish_at     timestamptz,
    last_error          text        NOT NULL DEFAULT '',
    resync_requested_at timestamptz,
    last_resync         jsonb
);
INSERT INTO snapshot_state (id) VALUES (1);

-- Balancers' heartbeats.
CREATE TABLE balancers (
    instance_id      text        PRIMARY KEY,
    snapshot_version bigint      NOT NULL,
    checksum         text        NOT NULL DEFAULT '',
    hostname         text        NOT NULL DEFAULT '',
    version          text        NOT NULL DEFAULT '',
    last_seen        timestamptz NOT NULL
);

-- +goose Down
DROP TABLE balancers;
DROP TABLE snapshot_state;
