-- +goose Up
-- The publisher finds the keys the clock changed (an expiry, the end of a
-- rotation's grace period) and the next such moment by range queries on
-- these columns, instead of scanning every key.
CREATE INDEX keys_expires_at_idx ON keys (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;
CREATE INDEX keys_prev_expires_at_idx ON keys (prev_expires_at) WHERE prev_token_hash IS NOT NULL AND status <> 'revoked';

-- +goose Down
DROP INDEX keys_prev_expires_at_idx;
DROP INDEX keys_expires_at_idx;
