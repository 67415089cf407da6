-- +goose Up
-- Per-key totals in blocks of 1, 6 and 24 UTC-aligned hours, kept by the log
-- writer in the same transaction as the rows. GET /stats/usage?group_by=key
-- covers a range with whole days, then 6-hour blocks, then single hours at
-- its ends: a 7-day range reads at most 15 rows per key (6 days + at most 9
-- edge blocks) instead of 6 days + up to 46 hours across usage_daily and
-- usage_hourly, whose rows also multiply with the models and providers a
-- key uses. Only the key and its master are kept, so the rows are narrow.
CREATE TABLE usage_key (
    hours             smallint         NOT NULL CHECK (hours IN (1, 6, 24)),
    bucket            timestamptz      NOT NULL,
    key_id            bigint           NOT NULL DEFAULT 0,
    master_id         bigint           NOT NULL DEFAULT 0,
    requests          bigint           NOT NULL DEFAULT 0,
    errors            bigint           NOT NULL DEFAULT 0,
    prompt_tokens     bigint           NOT NULL DEFAULT 0,
    completion_tokens bigint           NOT NULL DEFAULT 0,
    cost_usd          double precision NOT NULL DEFAULT 0,
    latency_sum       bigint           NOT NULL DEFAULT 0,
    latency_max       bigint           NOT NULL DEFAULT 0,
    PRIMARY KEY (hours, bucket, key_id, master_id)
);

-- The existing hourly roll-ups (every dimension) seed every block length, in
-- primary-key order, so the rows one range reads lie together.
INSERT INTO usage_key (hours, bucket, key_id, master_id, requests, errors, prompt_tokens, completion_tokens, cost_usd,
                       latency_sum, latency_max)
SELECT b.hours, b.bucket, u.key_id, u.master_id, LEAST(sum(u.requests), 9223372036854775807),
       LEAST(sum(u.errors), 9223372036854775807),
       LEAST(sum(u.prompt_tokens), 9223372036854775807), LEAST(sum(u.completion_tokens), 9223372036854775807),
       sum(u.cost_usd), LEAST(sum(u.latency_sum), 9223372036854775807), max(u.latency_max)
FROM usage_hourly u
CROSS JOIN LATERAL (VALUES (1::smallint, u.hour),
                           (6::smallint, to_timestamp(floor(extract(epoch FROM u.hour) / 21600) * 21600)),
                           (24::smallint, date_trunc('day', u.hour, 'UTC'))) AS b(hours, bucket)
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4;

-- +goose Down
DROP TABLE usage_key;
