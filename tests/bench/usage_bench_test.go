package bench_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/testenv"
)

// usageRows is how many log records TestUsageStats ingests before querying:
// EZ_BENCH_USAGE_ROWS, 1,000,000 by default (the issue asks for 1M and 10M;
// the statistics must stay flat in it).
var usageRows = func() int {
	if n, err := strconv.Atoi(os.Getenv("EZ_BENCH_USAGE_ROWS")); err == nil && n >= 10_000 {
		return n
	}
	return 1_000_000
}()

// usageBatch builds records [first, first+n) of the usage data set: spread
// evenly over span from `from`, 20 models, 500 keys, 10 masters, 5 providers,
// one error in 50.
func usageBatch(first, n int, from time.Time, span time.Duration) string {
	var b strings.Builder
	b.Grow(n * 330)
	b.WriteByte('[')
	step := span / time.Duration(usageRows)
	for g := first; g < first+n; g++ {
		if g > first {
			b.WriteByte(',')
		}
		status := 200
		if g%50 == 0 {
			status = 502
		}
		fmt.Fprintf(&b, `{"request_id":"usage-%d","created_at":%q,"key_id":%d,"master_id":%d,"namespace":"default","model":"m-%02d",`+
			`"provider_id":%d,"upstream_model":"up-%02d","status_code":%d,"latency_ms":%d,"ttft_ms":120,`+
			`"prompt_tokens":%d,"completion_tokens":%d,"stream":false,"client_ip":"203.0.113.9","balancer_id":"usage","cost_usd":0.002}`,
			g, from.Add(time.Duration(g)*step).Format(time.RFC3339Nano), 1000+g%500, 1+g%10, g%20,
			1+g%5, g%20, status, 100+g%900, 100+g%1000, 10+g%300)
	}
	b.WriteByte(']')
	return b.String()
}

// ingestUsage posts the data set through POST /logs (the pipeline keeps the
// roll-ups); a batch refused for load (503) is retried, as a balancer does.
func ingestUsage(t *testing.T, addr, token string, from time.Time, span time.Duration) {
	perBatch, workers := 1000, 4
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(5*time.Minute + time.Duration(usageRows/2000)*time.Second)
	for range workers {
		wg.Go(func() {
			client := &http.Client{Timeout: 60 * time.Second}
			for time.Now().Before(deadline) {
				first := int(next.Add(int64(perBatch))) - perBatch
				if first >= usageRows {
					return
				}
				body := usageBatch(first, perBatch, from, span)
				ok := false
				for attempt := 0; attempt < 5 && !ok && time.Now().Before(deadline); attempt++ {
					req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/logs", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+token)
					res, err := client.Do(req)
					if err == nil {
						res.Body.Close()
						ok = res.StatusCode == http.StatusOK
					}
				}
				if !ok {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, failed.Load(), "every batch is accepted")
}

// seedUsageSQL writes the same data set and its roll-ups with SQL
// (EZ_BENCH_USAGE_SEED=sql): what GET /stats/usage reads is the same, and
// 10,000,000 rows load in minutes instead of hours through HTTP here.
func seedUsageSQL(t *testing.T, db *sqlx.DB, from time.Time, span time.Duration) {
	step := float64(span.Microseconds()) / float64(usageRows)
	_, err := db.Exec(`INSERT INTO logs (created_at, request_id, key_id, master_id, namespace, model, provider_id, upstream_model,
  status_code, latency_ms, ttft_ms, prompt_tokens, completion_tokens, cached_tokens, cost_usd, stream, client_ip, error, balancer_id)
SELECT $1::timestamptz + make_interval(secs => g * $2::double precision / 1e6), 'usage-' || g, 1000 + g % 500, 1 + g % 10,
  'default', 'm-' || lpad((g % 20)::text, 2, '0'), 1 + g % 5, 'up-' || lpad((g % 20)::text, 2, '0'),
  CASE WHEN g % 50 = 0 THEN 502 ELSE 200 END, 100 + g % 900, 120, 100 + g % 1000, 10 + g % 300, 0, 0.002, false,
  '203.0.113.9', '', 'usage'
FROM generate_series(0, $3::bigint - 1) g`, from, step, usageRows)
	require.NoError(t, err)
	for _, q := range []string{
		`CREATE UNLOGGED TABLE bench_usage_hourly (hour timestamptz, key_id bigint, master_id bigint, model text, provider_id bigint,
  requests bigint, errors bigint, prompt_tokens bigint, completion_tokens bigint, cost_usd double precision, latency_sum bigint, latency_max bigint)`,
		`INSERT INTO bench_usage_hourly (hour, key_id, master_id, model, provider_id, requests, errors, prompt_tokens, completion_tokens, cost_usd, latency_sum, latency_max)
SELECT date_trunc('hour', created_at, 'UTC'), key_id, master_id, model, provider_id, count(*), count(*) FILTER (WHERE status_code >= 400),
  sum(prompt_tokens), sum(completion_tokens), sum(cost_usd), sum(latency_ms), max(latency_ms)
FROM logs WHERE balancer_id = 'usage' GROUP BY 1, 2, 3, 4, 5`,
		`INSERT INTO usage_daily (day, key_id, master_id, model, provider_id, requests, errors, prompt_tokens, completion_tokens, cost_usd, latency_sum, latency_max)
SELECT date_trunc('day', hour, 'UTC'), key_id, master_id, model, provider_id, sum(requests), sum(errors), sum(prompt_tokens),
  sum(completion_tokens), sum(cost_usd), sum(latency_sum), max(latency_max)
FROM bench_usage_hourly GROUP BY 1, 2, 3, 4, 5`,
		`INSERT INTO usage_hourly_master (hour, master_id, requests, errors, prompt_tokens, completion_tokens, cost_usd, latency_sum, latency_max)
SELECT hour, master_id, sum(requests), sum(errors), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd), sum(latency_sum), max(latency_max)
FROM bench_usage_hourly GROUP BY 1, 2`,
		`INSERT INTO usage_hourly_model (hour, master_id, model, provider_id, requests, errors, prompt_tokens, completion_tokens, cost_usd, latency_sum, latency_max)
SELECT hour, master_id, model, provider_id, sum(requests), sum(errors), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd), sum(latency_sum), max(latency_max)
FROM bench_usage_hourly GROUP BY 1, 2, 3, 4`,
		// In block order, as the writer leaves them: the rows of one block
		// are written at about the same time.
		`INSERT INTO usage_key (hours, bucket, key_id, master_id, requests, errors, prompt_tokens, completion_tokens, cost_usd, latency_sum, latency_max)
SELECT b.hours, b.bucket, u.key_id, u.master_id, sum(requests), sum(errors), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd), sum(latency_sum), max(latency_max)
FROM bench_usage_hourly u CROSS JOIN LATERAL (VALUES (1::smallint, u.hour), (6::smallint, to_timestamp(floor(extract(epoch FROM u.hour) / 21600) * 21600)),
  (24::smallint, date_trunc('day', u.hour, 'UTC'))) AS b(hours, bucket)
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
		`DROP TABLE bench_usage_hourly`, `ANALYZE logs`, `VACUUM ANALYZE usage_hourly_model`, `VACUUM ANALYZE usage_daily`,
		`VACUUM ANALYZE usage_hourly_master`, `VACUUM ANALYZE usage_key`,
	} {
		_, err := db.Exec(q)
		require.NoError(t, err)
	}
}

// TestUsageStats: GET /stats/usage over 1,000,000 logged rows, ingested
// through POST /logs so the pipeline keeps the hourly roll-ups, against the
// same aggregate computed by scanning the raw logs in the same run.
func TestUsageStats(t *testing.T) {
	testenv.Reset(t) // its own data set: no other benchmark's rows, ids or snapshot
	_, addr := startBinary(t)
	db, err := sqlx.Open("postgres", testenv.DSN())
	require.NoError(t, err)
	defer db.Close()
	ingest, err := domain.NewToken(domain.TokenService)
	require.NoError(t, err)
	viewer, err := domain.NewToken(domain.TokenService)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO service_tokens (name, role, token_hash, prefix) VALUES ('usage-ingest', 'balancer', $1, $2), ('usage-viewer', 'viewer', $3, $4)`,
		ingest.Hash, ingest.Prefix, viewer.Hash, viewer.Prefix)
	require.NoError(t, err)
	seedLogKeys(t, db)

	// A seven-day window that ends an hour ago, so no other benchmark's rows
	// (all stamped "now") fall inside it.
	span := 7 * 24 * time.Hour
	to := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	from := to.Add(-span)

	if os.Getenv("EZ_BENCH_USAGE_SEED") == "sql" {
		seedUsageSQL(t, db, from, span)
	} else {
		ingestUsage(t, addr, ingest.Plaintext, from, span)
	}
	var stored int64
	require.NoError(t, db.Get(&stored, `SELECT count(*) FROM logs WHERE created_at >= $1 AND created_at < $2`, from, to))
	require.EqualValues(t, usageRows, stored)

	// With EZ_BENCH_BEFORE_BIN (a binary built from an earlier commit) the
	// same run also times that binary, request by request in turn with ours.
	var beforeAddr string
	if before := os.Getenv("EZ_BENCH_BEFORE_BIN"); before != "" {
		_, beforeAddr = runBinary(t, before, testenv.Environ("EZ_LOG_LEVEL=info"))
	}
	queryAt := func(addr, group string) (time.Duration, []map[string]any) {
		q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "group_by": {group}}
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/stats/usage?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+viewer.Plaintext)
		t0 := time.Now()
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var body struct {
			Rows []map[string]any `json:"rows"`
		}
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		return time.Since(t0), body.Rows
	}
	query := func(group string) (time.Duration, []map[string]any) { return queryAt(addr, group) }

	// The answer is right before it is timed: every row counted once.
	_, rows := query("model")
	require.Len(t, rows, 20)
	var total float64
	for _, r := range rows {
		total += r["requests"].(float64)
	}
	require.EqualValues(t, usageRows, total)

	sec := "Usage statistics (issues 7, 14)"
	explain(sec, "The real binary over logged rows spread evenly over a seven-day window that ends an hour ago "+
		"(500 keys, 10 masters, 20 models, 5 providers), loaded through POST /logs or, with "+
		"`EZ_BENCH_USAGE_SEED=sql`, by `generate_series` with the roll-ups in SQL. Each group_by is asked for the whole "+
		"window by a viewer service token, requests taking turns; the answers are checked to count every row once. "+
		"Rows read per request come from PostgreSQL's statistics and do not grow with the logged rows. The baseline is "+
		"the same per-model aggregate scanning the raw logs in SQL. `EZ_BENCH_USAGE_ROWS=10000000` is the 10M case.")
	method := "ingested through POST /logs"
	if os.Getenv("EZ_BENCH_USAGE_SEED") == "sql" {
		method = "seeded with SQL"
	}
	const runs = 100
	groups := []string{"model", "key", "master", "provider", "hour", "day"}
	lats, counts := map[string][]time.Duration{}, map[string]int{}
	load := loadAvg()
	for _, group := range groups {
		var lat, beforeLat []time.Duration
		var n int
		for range runs {
			d, rows := query(group)
			lat, n = append(lat, d), len(rows)
			if beforeAddr != "" {
				d, rows := queryAt(beforeAddr, group)
				require.Len(t, rows, n, "both binaries answer the same groups")
				beforeLat = append(beforeLat, d)
			}
		}
		if beforeAddr != "" {
			t.Logf("group_by=%s: before p50 %s p99 %s; after p50 %s p99 %s", group, ms(percentile(beforeLat, 0.5)),
				ms(percentile(beforeLat, 0.99)), ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)))
		}
		lats[group], counts[group] = lat, n
	}
	load += " → " + loadAvg()
	// Every grouping counts every logged row once.
	for _, group := range groups {
		_, rows := query(group)
		var total float64
		for _, r := range rows {
			total += r["requests"].(float64)
		}
		require.EqualValues(t, usageRows, total, "group_by=%s", group)
	}
	read := rollupRowsRead(t, db, groups, query)
	for _, group := range groups {
		record(sec, row{fmt.Sprintf("GET /stats/usage?group_by=%s over %s logged rows (%s), 7 days: %d groups, %s roll-up rows read per request; %d requests, load average %s",
			group, thousands(usageRows), method, counts[group], read[group], runs, load),
			fmt.Sprintf("p50 %s, p99 %s", ms(percentile(lats[group], 0.5)), ms(percentile(lats[group], 0.99))), "—", "—", "p99 ≤ 20 ms, flat in logged rows"})
	}

	// Baseline: the same per-model aggregate by scanning the raw logs.
	var scan []time.Duration
	for range 5 {
		t0 := time.Now()
		var n []struct {
			Model  string  `db:"model"`
			Reqs   int64   `db:"reqs"`
			Errs   int64   `db:"errs"`
			PT     int64   `db:"pt"`
			CT     int64   `db:"ct"`
			Cost   float64 `db:"cost"`
			AvgLat float64 `db:"avg_lat"`
			MaxLat int64   `db:"max_lat"`
		}
		require.NoError(t, db.Select(&n, `SELECT model, count(*) AS reqs, count(*) FILTER (WHERE status_code >= 400) AS errs,
  sum(prompt_tokens) AS pt, sum(completion_tokens) AS ct, sum(cost_usd) AS cost, avg(latency_ms) AS avg_lat, max(latency_ms) AS max_lat
FROM logs WHERE created_at >= $1 AND created_at < $2 GROUP BY model`, from, to))
		scan = append(scan, time.Since(t0))
		require.Len(t, n, 20)
	}
	var fromRollups []time.Duration
	for range runs {
		d, _ := query("model")
		fromRollups = append(fromRollups, d)
	}
	r, s := percentile(fromRollups, 0.5), percentile(scan, 0.5)
	record(sec, row{"group_by=model from roll-ups (HTTP, end to end) vs the same aggregate scanning raw logs (SQL only), p50",
		ms(r), ms(s) + " raw scan", fmt.Sprintf("%.0f× faster", float64(s)/float64(r)), "—"})
}

// rollupRowsRead is, per grouping, how many roll-up rows (index entries and
// sequentially scanned rows of the usage_* tables) one request reads, from
// PostgreSQL's statistics. A backend reports them when its transaction ends
// if it last reported at least a second before, and within about ten
// seconds otherwise: so the counters are first left to settle, then each
// grouping is queried once and its counters awaited. "?" when they do not
// move within the deadline.
func rollupRowsRead(t *testing.T, db *sqlx.DB, groups []string, query func(string) (time.Duration, []map[string]any)) map[string]string {
	t.Helper()
	counter := func() int64 {
		var n int64
		require.NoError(t, db.Get(&n, `SELECT (SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables WHERE relname LIKE 'usage\_%')
  + (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname LIKE 'usage\_%')`))
		return n
	}
	// settle waits until the counter has not moved for quiet (at most 30 s).
	settle := func(quiet time.Duration) int64 {
		last, since := counter(), time.Now()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
			if n := counter(); n != last {
				last, since = n, time.Now()
			} else if time.Since(since) >= quiet {
				break
			}
		}
		return last
	}
	out := map[string]string{}
	before := settle(11 * time.Second)
	for _, group := range groups {
		query(group)
		out[group] = "?"
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if n := counter(); n != before {
				out[group] = thousands(int(n - before))
				break
			}
		}
		before = settle(1500 * time.Millisecond) // the next report is immediate
	}
	return out
}

// loadAvg is the 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

// thousands writes n with comma separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
