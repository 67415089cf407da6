-- +goose Up
-- The roll-ups are rewritten by every log batch (one upsert per group), so
-- their rows are updated far more often than inserted. Free space on each
-- page lets an update stay on its page (a HOT update: no new index entries,
-- old versions pruned when the page is next read), and a lower autovacuum
-- threshold clears what is left before reads of GET /stats/usage wade
-- through dead versions. New pages get the fill factor; existing ones as
-- they are rewritten.
ALTER TABLE usage_key SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE usage_daily SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE usage_hourly_master SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE usage_hourly_model SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);

-- +goose Down
ALTER TABLE usage_key RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE usage_daily RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE usage_hourly_master RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE usage_hourly_model RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
