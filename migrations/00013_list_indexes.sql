-- +goose Up
-- Filtered list pages are ranges of these indexes: the filter's columns
-- first, the page order after them, so a page is read in order and cut
-- at the limit whatever the table's size or statistics.
CREATE INDEX providers_status_idx ON providers (status, id);
CREATE INDEX providers_type_idx ON providers (type, id);
CREATE INDEX providers_group_id_idx ON providers (group_id, id);
CREATE INDEX models_namespace_id_idx ON models (namespace, id);
CREATE INDEX models_kind_idx ON models (kind, id);
CREATE INDEX models_status_idx ON models (status, id);
CREATE INDEX bindings_status_idx ON bindings (status, id);
CREATE INDEX masters_status_idx ON masters (status, id);
CREATE INDEX keys_status_idx ON keys (status, id);
CREATE INDEX keys_group_idx ON keys (group_name, id);
-- GET /audit pages newest first by id.
DROP INDEX audit_log_resource_idx;
DROP INDEX audit_log_actor_idx;
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_type, actor_id, id);
-- GET /logs pages newest first by (created_at, id).
DROP INDEX logs_key_idx;
DROP INDEX logs_master_idx;
CREATE INDEX logs_key_idx ON logs (key_id, created_at DESC, id DESC) WHERE key_id IS NOT NULL;
CREATE INDEX logs_master_idx ON logs (master_id, created_at DESC, id DESC) WHERE master_id IS NOT NULL;

-- +goose Down
DROP INDEX logs_master_idx;
DROP INDEX logs_key_idx;
CREATE INDEX logs_key_idx ON logs (key_id, created_at DESC) WHERE key_id IS NOT NULL;
CREATE INDEX logs_master_idx ON logs (master_id, created_at DESC) WHERE master_id IS NOT NULL;
DROP INDEX audit_log_actor_idx;
DROP INDEX audit_log_resource_idx;
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id, at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_type, actor_id, at DESC);
DROP INDEX keys_group_idx;
DROP INDEX keys_status_idx;
DROP INDEX masters_status_idx;
DROP INDEX bindings_status_idx;
DROP INDEX models_status_idx;
DROP INDEX models_kind_idx;
DROP INDEX models_namespace_id_idx;
DROP INDEX providers_group_id_idx;
DROP INDEX providers_type_idx;
DROP INDEX providers_status_idx;
