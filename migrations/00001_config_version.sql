-- +goose Up
-- One monotonic version for all routing and tenancy configuration: every
-- mutation takes the next value in the same transaction as the change, and
-- the Redis snapshot carries it (DESIGN.md §5).
CREATE SEQUENCE config_version AS bigint START WITH 1 MINVALUE 1 NO CYCLE;

-- +goose Down
DROP SEQUENCE config_version;
