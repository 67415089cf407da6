-- +goose Up
-- A provider change republishes the bindings with a candidate on the
-- provider's route group: containment on this index finds them instead of
-- unpacking every binding's candidates (10,000 bindings: 8 ms → 1.4 ms).
CREATE INDEX bindings_candidates_idx ON bindings USING gin (candidates jsonb_path_ops);

-- +goose Down
DROP INDEX bindings_candidates_idx;
