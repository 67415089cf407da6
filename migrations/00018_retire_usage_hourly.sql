-- +goose Up
-- usage_hourly (per hour, key, master, model and provider) has had no reader
-- since usage_key answers group_by=key: GET /stats/usage reads usage_daily,
-- usage_hourly_model, usage_hourly_master and usage_key. The log writer no
-- longer keeps it (it was the widest roll-up, upserted in every batch). The
-- table stays for one release so that replicas of the previous version,
-- which still write it, keep ingesting during a rolling upgrade; a later
-- migration drops it.
COMMENT ON TABLE usage_hourly IS 'No longer written or read since migration 00018; kept for rolling upgrades, to be dropped.';

-- +goose Down
COMMENT ON TABLE usage_hourly IS NULL;
