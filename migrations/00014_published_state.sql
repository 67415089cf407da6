-- +goose Up
-- What the publishing replica last wrote to Redis (version, per-section
-- checksums and counts, fail-closed entries) and the last reconcile's
-- outcome, so GET /sync/status on any replica answers from stored state
-- instead of rebuilding the snapshot and reading all of Redis.
ALTER TABLE snapshot_state ADD COLUMN published jsonb, ADD COLUMN last_reconcile jsonb;

-- +goose Down
ALTER TABLE snapshot_state DROP COLUMN last_reconcile, DROP COLUMN published;
