-- +goose Up
-- Access logs from the balancers, partitioned by day on created_at. The
-- primary key makes a retried batch a counted duplicate, never a second row.
CREATE TABLE logs (
    id                bigint GENERATED ALWAYS AS IDENTITY,
    created_at        timestamptz      NOT NULL,
    request_id        text             NOT NULL,
    key_id            bigint,
    master_id         bigint,
    namespace         text             NOT NULL DEFAULT '',
    model             text             NOT NULL DEFAULT '',
    provider_id       bigint,
    upstream_model    text             NOT NULL DEFAULT '',
    status_code       integer          NOT NULL DEFAULT 0,
    latency_ms        integer          NOT NULL DEFAULT 0,
    ttft_ms           integer          NOT NULL DEFAULT 0,
    prompt_tokens     bigint           NOT NULL DEFAULT 0,
    completion_tokens bigint           NOT NULL DEFAULT 0,
    cached_tokens     bigint           NOT NULL DEFAULT 0,
    cost_usd          double precision NOT NULL DEFAULT 0,
    stream            boolean          NOT NULL DEFAULT false,
    client_ip         text             NOT NULL DEFAULT '',
    error             text             NOT NULL DEFAULT '',
    balancer_id       text             NOT NULL DEFAULT '',
    ingested_at       timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (created_at, request_id)
) PARTITION BY RANGE (created_at);
-- Records outside the daily partitions (far past or future) land here.
CREATE TABLE logs_default PARTITION OF logs DEFAULT;
-- Serve GET /logs: newest first overall, by key and by master.
CREATE INDEX logs_created_idx ON logs (created_at DESC, id DESC);
CREATE INDEX logs_key_idx ON logs (key_id, created_at DESC) WHERE key_id IS NOT NULL;
CREATE INDEX logs_master_idx ON logs (master_id, created_at DESC) WHERE master_id IS NOT NULL;

-- Records PostgreSQL itself refused (e.g. a NUL byte in text), kept with the reason.
CREATE TABLE log_rejects (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    request_id  text        NOT NULL DEFAULT '',
    reason      text        NOT NULL,
    record      text        NOT NULL
);

-- Hourly roll-ups maintained by the writer from the rows it inserted, so
-- GET /stats/usage never scans raw logs.
CREATE TABLE usage_hourly (
    hour              timestamptz      NOT NULL,
    key_id            bigint           NOT NULL DEFAULT 0,
    master_id         bigint           NOT NULL DEFAULT 0,
    model             text             NOT NULL DEFAULT '',
    provider_id       bigint           NOT NULL DEFAULT 0,
    requests          bigint           NOT NULL DEFAULT 0,
    errors            bigint           NOT NULL DEFAULT 0,
    prompt_tokens     bigint           NOT NULL DEFAULT 0,
    completion_tokens bigint           NOT NULL DEFAULT 0,
    cost_usd          double precision NOT NULL DEFAULT 0,
    latency_sum       bigint           NOT NULL DEFAULT 0,
    latency_max       bigint           NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, key_id, master_id, model, provider_id)
);
CREATE INDEX usage_hourly_master_idx ON usage_hourly (master_id, hour);

-- +goose Down
DROP TABLE usage_hourly;
DROP TABLE log_rejects;
DROP TABLE logs;
