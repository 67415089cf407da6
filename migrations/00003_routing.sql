-- +goose Up
-- Route groups get an id of their own on first use; the snapshot carries it.
CREATE TABLE route_groups (
    id         bigserial PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE providers (
    id                 bigserial PRIMARY KEY,
    name               text        NOT NULL UNIQUE,
    type               text        NOT NULL,
    base_url           text        NOT NULL DEFAULT '',
    -- AES-256-GCM: format byte, key version, nonce, ciphertext and tag; the
    -- row id is the additional data. The mask is what responses show.
    api_key_ciphertext bytea,
    api_key_mask       text        NOT NULL DEFAULT '',
    google_project     text,
    google_location    text,
    group_id           bigint      NOT NULL REFERENCES route_groups (id),
    models             text[]      NOT NULL,
    weight             integer     NOT NULL DEFAULT 1 CHECK (weight >= 0),
    priority           integer     NOT NULL DEFAULT 0,
    status             text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'banned')),
    auto_ban           boolean     NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX providers_group_status_idx ON providers (group_id, status);

CREATE TABLE models (
    id                    bigserial PRIMARY KEY,
    namespace             text             NOT NULL,
    name                  text             NOT NULL,
    kind                  text             NOT NULL CHECK (kind IN ('chat', 'embedding', 'rerank', 'other')),
    context_window        integer CHECK (context_window > 0),
    max_output_tokens     integer CHECK (max_output_tokens > 0),
    input_price_per_mtok  double precision NOT NULL DEFAULT 0 CHECK (input_price_per_mtok >= 0),
    output_price_per_mtok double precision NOT NULL DEFAULT 0 CHECK (output_price_per_mtok >= 0),
    supports_vision       boolean          NOT NULL DEFAULT false,
    supports_functions    boolean          NOT NULL DEFAULT false,
    supports_tool_choice  boolean          NOT NULL DEFAULT false,
    supports_fim          boolean          NOT NULL DEFAULT false,
    supports_stream       boolean          NOT NULL DEFAULT true,
    status                text             NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at            timestamptz      NOT NULL DEFAULT now(),
    updated_at            timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (namespace, name)
);

-- One binding per public model; a model in use cannot be deleted.
CREATE TABLE bindings (
    id         bigserial PRIMARY KEY,
    model_id   bigint      NOT NULL UNIQUE REFERENCES models (id) ON DELETE RESTRICT,
    status     text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    candidates jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Changes for the snapshot publisher, written in the transaction of the
-- change; version comes from the config_version sequence.
CREATE TABLE config_outbox (
    version    bigint      PRIMARY KEY,
    section    text        NOT NULL,
    entity_id  text        NOT NULL,
    op         text        NOT NULL CHECK (op IN ('upsert', 'delete')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE config_outbox;
DROP TABLE bindings;
DROP TABLE models;
DROP TABLE providers;
DROP TABLE route_groups;
