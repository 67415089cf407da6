-- +goose Up
CREATE TABLE operators (
    id            bigserial PRIMARY KEY,
    username      text        NOT NULL,
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
-- Usernames are unique regardless of case.
CREATE UNIQUE INDEX operators_username_key ON operators (lower(username));

CREATE TABLE service_tokens (
    id           bigserial PRIMARY KEY,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('admin', 'developer', 'viewer', 'balancer')),
    token_hash   char(64)    NOT NULL UNIQUE,
    prefix       text        NOT NULL,
    created_by   bigint      REFERENCES operators (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- Tenants. The tenancy issue adds their API; the master token (mk-…)
-- authenticates a tenant managing its own keys. Only its sha256 is stored.
CREATE TABLE masters (
    id           bigserial PRIMARY KEY,
    name         text        NOT NULL UNIQUE,
    group_name   text        NOT NULL DEFAULT 'default',
    status       text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    max_keys     integer     NOT NULL DEFAULT 0 CHECK (max_keys >= 0),
    default_rpm  integer     NOT NULL DEFAULT 0 CHECK (default_rpm >= 0),
    default_tpm  integer     NOT NULL DEFAULT 0 CHECK (default_tpm >= 0),
    token_hash   char(64)    NOT NULL UNIQUE,
    token_prefix text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Every mutation and security event, written in the transaction of the change.
CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor_type    text        NOT NULL,
    actor_id      bigint      NOT NULL DEFAULT 0,
    action        text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL DEFAULT '',
    changes       jsonb,
    request_id    text        NOT NULL DEFAULT '',
    client_ip     text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id, at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_type, actor_id, at DESC);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE masters;
DROP TABLE service_tokens;
DROP TABLE operators;
