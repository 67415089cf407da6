-- +goose Up
-- Each binding's last computed resolution: written by the binding's own
-- create/update (in its transaction) and by the snapshot publisher once
-- Redis holds what it resolved (a provider of the binding's route groups
-- changed). GET /bindings serves it instead of resolving again. version is
-- the config version it was computed at: an older one never replaces a
-- newer one.
CREATE TABLE binding_resolutions (
    binding_id  bigint      PRIMARY KEY REFERENCES bindings (id) ON DELETE CASCADE,
    version     bigint      NOT NULL,
    resolution  jsonb       NOT NULL,
    resolved_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE binding_resolutions;
