-- +goose Up
-- Master caps: what a tenant may give the keys it manages (0 / NULL / empty:
-- no cap), and the namespaces a master's and a key's callers may use
-- (empty: all) with the namespace of unqualified model names.
ALTER TABLE masters
    ADD COLUMN max_rpm             integer          NOT NULL DEFAULT 0 CHECK (max_rpm >= 0),
    ADD COLUMN max_tpm             integer          NOT NULL DEFAULT 0 CHECK (max_tpm >= 0),
    ADD COLUMN max_quota_tokens    bigint           CHECK (max_quota_tokens > 0),
    ADD COLUMN max_budget_usd      double precision CHECK (max_budget_usd >= 0),
    ADD COLUMN budget_period       text             NOT NULL DEFAULT 'none'
                                                    CHECK (budget_period IN ('none', 'daily', 'monthly')),
    ADD COLUMN max_key_ttl_seconds bigint           NOT NULL DEFAULT 0 CHECK (max_key_ttl_seconds >= 0),
    ADD COLUMN allowed_models      text[]           NOT NULL DEFAULT '{}',
    ADD COLUMN namespaces          text[]           NOT NULL DEFAULT '{}',
    ADD COLUMN default_namespace   text             NOT NULL DEFAULT 'default';

ALTER TABLE keys
    ADD COLUMN namespaces        text[] NOT NULL DEFAULT '{}',
    ADD COLUMN default_namespace text   NOT NULL DEFAULT 'default';

-- Names differing only in case are one name (GPT-4o beside gpt-4o is refused).
CREATE UNIQUE INDEX masters_name_ci_key ON masters (lower(name));
CREATE UNIQUE INDEX providers_name_ci_key ON providers (lower(name));
CREATE UNIQUE INDEX models_namespace_name_ci_key ON models (namespace, lower(name));

-- +goose Down
DROP INDEX models_namespace_name_ci_key;
DROP INDEX providers_name_ci_key;
DROP INDEX masters_name_ci_key;
ALTER TABLE keys DROP COLUMN default_namespace, DROP COLUMN namespaces;
ALTER TABLE masters DROP COLUMN default_namespace, DROP COLUMN namespaces, DROP COLUMN allowed_models,
    DROP COLUMN max_key_ttl_seconds, DROP COLUMN budget_period, DROP COLUMN max_budget_usd,
    DROP COLUMN max_quota_tokens, DROP COLUMN max_tpm, DROP COLUMN max_rpm;
