-- +goose Up
-- Client keys: only the sha256 of the token is stored; during a rotation's
-- grace period the previous hash keeps working until prev_expires_at.
CREATE TABLE keys (
    id                bigserial PRIMARY KEY,
    master_id         bigint           NOT NULL REFERENCES masters (id) ON DELETE CASCADE,
    name              text             NOT NULL,
    prefix            text             NOT NULL,
    token_hash        char(64)         NOT NULL UNIQUE,
    prev_token_hash   char(64),
    prev_expires_at   timestamptz,
    group_name        text             NOT NULL,
    allowed_models    text[]           NOT NULL DEFAULT '{}',
    allowed_ips       text[]           NOT NULL DEFAULT '{}',
    rpm_limit         integer          NOT NULL DEFAULT 0 CHECK (rpm_limit >= 0),
    tpm_limit         integer          NOT NULL DEFAULT 0 CHECK (tpm_limit >= 0),
    quota_tokens      bigint CHECK (quota_tokens > 0),
    budget_usd        double precision CHECK (budget_usd >= 0),
    budget_period     text             NOT NULL DEFAULT 'none' CHECK (budget_period IN ('none', 'daily', 'monthly')),
    expires_at        timestamptz,
    status            text             NOT NULL DEFAULT 'active'
                                       CHECK (status IN ('active', 'disabled', 'expired', 'exhausted', 'revoked')),
    issued_by         text             NOT NULL,
    used_tokens       bigint           NOT NULL DEFAULT 0,
    used_usd          double precision NOT NULL DEFAULT 0,
    period_start      timestamptz,
    revoked_at        timestamptz,
    created_at        timestamptz      NOT NULL DEFAULT now(),
    updated_at        timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX keys_master_idx ON keys (master_id, id);
CREATE UNIQUE INDEX keys_prev_token_hash_key ON keys (prev_token_hash) WHERE prev_token_hash IS NOT NULL;

CREATE TABLE feature_flags (
    name       text PRIMARY KEY,
    value      text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE feature_flags;
DROP TABLE keys;
