-- +goose Up
-- Daily roll-ups beside the hourly ones, and per-master hourly totals, kept
-- by the log writer in the same transaction as the rows, so GET /stats/usage
-- reads O(groups × buckets) rows whatever the number of logged rows: whole
-- days come from usage_daily, the hours at the edges of a range from
-- usage_hourly (by key) or usage_hourly_model (by model or provider), and
-- group_by=hour|day|master from usage_hourly_master.
CREATE TABLE usage_daily (
    day               timestamptz      NOT NULL,
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
    PRIMARY KEY (day, key_id, master_id, model, provider_id)
);
-- A master's own statistics read only its rows.
CREATE INDEX usage_daily_master_idx ON usage_daily (master_id, day);

CREATE TABLE usage_hourly_master (
    hour              timestamptz      NOT NULL,
    master_id         bigint           NOT NULL DEFAULT 0,
    requests          bigint           NOT NULL DEFAULT 0,
    errors            bigint           NOT NULL DEFAULT 0,
    prompt_tokens     bigint           NOT NULL DEFAULT 0,
    completion_tokens bigint           NOT NULL DEFAULT 0,
    cost_usd          double precision NOT NULL DEFAULT 0,
    latency_sum       bigint           NOT NULL DEFAULT 0,
    latency_max       bigint           NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, master_id)
);
CREATE INDEX usage_hourly_master_master_idx ON usage_hourly_master (master_id, hour)
    INCLUDE (requests, errors, prompt_tokens, completion_tokens, cost_usd, latency_sum, latency_max);

-- Hourly roll-ups without the key, for the partial-day hours at the ends of
-- a range grouped by model or provider (far fewer rows than usage_hourly).
CREATE TABLE usage_hourly_model (
    hour              timestamptz      NOT NULL,
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
    PRIMARY KEY (hour, master_id, model, provider_id)
);

-- Existing hourly roll-ups seed the new ones.
INSERT INTO usage_daily (day, key_id, master_id, model, provider_id, requests, errors, prompt_tokens,
                         completion_tokens, cost_usd, latency_sum, latency_max)
SELECT date_trunc('day', hour, 'UTC'), key_id, master_id, model, provider_id, sum(requests), sum(errors),
       LEAST(sum(prompt_tokens), 9223372036854775807), LEAST(sum(completion_tokens), 9223372036854775807),
       sum(cost_usd), LEAST(sum(latency_sum), 9223372036854775807), max(latency_max)
FROM usage_hourly GROUP BY 1, 2, 3, 4, 5;
INSERT INTO usage_hourly_master (hour, master_id, requests, errors, prompt_tokens, completion_tokens, cost_usd,
                                 latency_sum, latency_max)
SELECT hour, master_id, sum(requests), sum(errors), LEAST(sum(prompt_tokens), 9223372036854775807),
       LEAST(sum(completion_tokens), 9223372036854775807), sum(cost_usd),
       LEAST(sum(latency_sum), 9223372036854775807), max(latency_max)
FROM usage_hourly GROUP BY 1, 2;
INSERT INTO usage_hourly_model (hour, master_id, model, provider_id, requests, errors, prompt_tokens, completion_tokens,
                                cost_usd, latency_sum, latency_max)
SELECT hour, master_id, model, provider_id, sum(requests), sum(errors), LEAST(sum(prompt_tokens), 9223372036854775807),
       LEAST(sum(completion_tokens), 9223372036854775807), sum(cost_usd),
       LEAST(sum(latency_sum), 9223372036854775807), max(latency_max)
FROM usage_hourly GROUP BY 1, 2, 3, 4;

-- +goose Down
DROP TABLE usage_hourly_model;
DROP TABLE usage_hourly_master;
DROP TABLE usage_daily;
