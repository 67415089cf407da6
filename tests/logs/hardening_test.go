package logs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

func rejectedFields(got apiclient.LogIngestResult) map[int]string {
	out := map[int]string{}
	for _, r := range got.Rejected {
		out[r.Index] = r.Errors[0].Field
	}
	return out
}

// issueKey creates a master with one key and returns both ids.
func issueKey(t *testing.T, env *testenv.Env, admin, name string) (masterID, keyID int64) {
	t.Helper()
	ctx := context.Background()
	m, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: name}, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, m.StatusCode(), string(m.Body))
	k, err := env.Client.IssueMasterKeyWithResponse(ctx, m.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: name + "-key"}, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, k.StatusCode(), string(k.Body))
	return m.JSON201.Master.Id, k.JSON201.Key.Id
}

// Issue 13 item 1: records that used to wedge the writers for good are
// refused by index at the edge (or absorbed by saturating roll-ups), and
// ingestion goes on.
func TestPoisonRecordsNeverStopIngestion(t *testing.T) {
	env, admin, bal := setup(t, func(c *app.Config) { c.Log.CommitTimeout = 5 * time.Second })
	now := time.Now()
	masterID, keyID := issueKey(t, env, admin, "poison")
	near := int64(math.MaxInt64 - 10)

	hr, got := post(t, env, bal, []any{
		record("p-latency", now, map[string]any{"latency_ms": int64(2147483648)}),
		record("p-ttft", now, map[string]any{"ttft_ms": int64(-1)}),
		record("p-model", now, map[string]any{"model": strings.Repeat("m", 6000)}),
		record("p-error", now, map[string]any{"error": strings.Repeat("é", 4097)}),
		record("p-tokens-1", now, map[string]any{"prompt_tokens": near, "completion_tokens": near, "key_id": keyID, "master_id": masterID}),
		record("p-tokens-2", now, map[string]any{"prompt_tokens": near, "completion_tokens": near, "key_id": keyID, "master_id": masterID}),
		record("p-old", now.AddDate(0, 0, -(env.Config.Log.RetentionDays+1)), nil),
		record("p-future", now.Add(env.Config.Log.MaxClockSkew+time.Minute), nil),
		record("p-cost", now, map[string]any{"cost_usd": 1e300}),
		record("p-ok", now, nil),
	})
	require.Equal(t, http.StatusOK, hr.StatusCode)
	assert.Equal(t, map[int]string{0: "latency_ms", 1: "ttft_ms", 2: "model", 3: "error", 6: "created_at", 7: "created_at", 8: "cost_usd"},
		rejectedFields(got))
	assert.Equal(t, 3, got.Accepted, "near-int64 token counts are stored; their sums saturate")
	assert.Equal(t, 3, countLogs(t, env, "p-"))

	var used, rolled int64
	require.NoError(t, env.DB.Get(&used, `SELECT used_tokens FROM keys WHERE id = $1`, keyID))
	assert.Equal(t, int64(math.MaxInt64), used, "key usage saturates")
	require.NoError(t, env.DB.Get(&rolled, `SELECT max(prompt_tokens) FROM usage_key WHERE hours = 1 AND key_id = $1`, keyID))
	assert.Equal(t, int64(math.MaxInt64), rolled, "the hourly roll-up saturates")

	// The usage endpoint still answers with the saturated sums.
	res, err := env.Client.GetUsageStatsWithResponse(context.Background(), &apiclient.GetUsageStatsParams{
		From: now.Add(-2 * time.Hour), To: now.Add(time.Hour), GroupBy: apiclient.GetUsageStatsParamsGroupByKey}, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))

	// Ingestion goes on: every later batch commits.
	for i := range 3 {
		hr, got := post(t, env, bal, []any{record(fmt.Sprintf("after-%d", i), time.Now(), nil)})
		require.Equal(t, http.StatusOK, hr.StatusCode)
		require.Equal(t, 1, got.Accepted)
	}
}

// Issue 13 item 1: a key_id must belong to master_id; a tenant never sees
// another tenant's key in its logs and no key is charged for another
// master's traffic.
func TestKeyOfAnotherMasterIsRejectedByIndex(t *testing.T) {
	env, admin, bal := setup(t)
	now := time.Now()
	masterA, keyA := issueKey(t, env, admin, "tenant-a")
	masterB, _ := issueKey(t, env, admin, "tenant-b")

	hr, got := post(t, env, bal, []any{
		record("k-own", now, map[string]any{"key_id": keyA, "master_id": masterA}),
		record("k-foreign", now, map[string]any{"key_id": keyA, "master_id": masterB}),
		record("k-unknown", now, map[string]any{"key_id": keyA + 100000, "master_id": masterA}),
		record("k-no-master", now, map[string]any{"key_id": keyA}),
	})
	require.Equal(t, http.StatusOK, hr.StatusCode)
	assert.Equal(t, map[int]string{1: "key_id", 2: "key_id"}, rejectedFields(got))
	assert.Equal(t, 2, got.Accepted)
	var masters []int64
	require.NoError(t, env.DB.Select(&masters, `SELECT master_id FROM logs WHERE request_id LIKE 'k-%' ORDER BY request_id`))
	assert.Equal(t, []int64{masterA, masterA}, masters, "a record without master_id is its key's master's")
	var used int64
	require.NoError(t, env.DB.Get(&used, `SELECT used_tokens FROM keys WHERE id = $1`, keyA))
	assert.Equal(t, int64(2*1500), used, "only the key's own master's traffic is charged")
}

// Issue 17 item 7: unknown members are ignored (and counted), a missing
// created_at is the time of receipt; the limits still hold per record.
func TestLenientRecords(t *testing.T) {
	env, _, bal := setup(t)
	before := time.Now().Add(-time.Second)
	hr, got := post(t, env, bal, []any{
		map[string]any{"request_id": "len-1", "model": "gpt-4o", "upstream_latency_ms": 12, "trace": map[string]any{"id": "x"}},
		map[string]any{"request_id": "len-2", "created_at": nil, "extra": []any{1, 2}},
		map[string]any{"request_id": "len-3", "status_code": 1000, "unknown": true},
	})
	require.Equal(t, http.StatusOK, hr.StatusCode)
	assert.Equal(t, 2, got.Accepted)
	assert.Equal(t, map[int]string{2: "status_code"}, rejectedFields(got))
	var at time.Time
	require.NoError(t, env.DB.Get(&at, `SELECT created_at FROM logs WHERE request_id = 'len-1'`))
	assert.WithinRange(t, at, before, time.Now().Add(time.Second), "created_at defaults to the time of receipt")
	assert.GreaterOrEqual(t, metric(t, env, "ezapi_log_unknown_fields_total"), 4.0)
}

// Issue 13 item 1: whatever PostgreSQL refuses a record for (here a check
// constraint, SQLSTATE class 23, which the old fallback never handled), the
// writer isolates it, quarantines it with the reason and commits the rest.
func TestWriterIsolatesARefusedRecord(t *testing.T) {
	env, _, bal := setup(t)
	_, err := env.DB.Exec(`ALTER TABLE logs ADD CONSTRAINT no_poison CHECK (model <> 'poison')`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = env.DB.Exec(`ALTER TABLE logs DROP CONSTRAINT IF EXISTS no_poison`) })
	before := metric(t, env, "ezapi_log_rows_quarantined_total")

	now := time.Now()
	var batch []any
	for i := range 50 {
		extra := map[string]any(nil)
		if i == 7 || i == 33 {
			extra = map[string]any{"model": "poison"}
		}
		batch = append(batch, record(fmt.Sprintf("iso-%02d", i), now, extra))
	}
	hr, got := post(t, env, bal, batch)
	require.Equal(t, http.StatusOK, hr.StatusCode)
	assert.Equal(t, 48, got.Accepted)
	assert.Equal(t, map[int]string{7: "record", 33: "record"}, rejectedFields(got))
	assert.Equal(t, 48, countLogs(t, env, "iso-"))
	var reasons []string
	require.NoError(t, env.DB.Select(&reasons, `SELECT reason FROM log_rejects WHERE request_id LIKE 'iso-%' ORDER BY request_id`))
	require.Len(t, reasons, 2)
	assert.Contains(t, reasons[0], "no_poison")
	assert.Equal(t, before+2, metric(t, env, "ezapi_log_rows_quarantined_total"))

	hr, got = post(t, env, bal, []any{record("iso-after", now, nil)})
	require.Equal(t, http.StatusOK, hr.StatusCode)
	assert.Equal(t, 1, got.Accepted)
}

// Issue 13 item 1: a batch that fails the same way every time for a reason
// that is not the data of one record (here a trigger raising disk_full) is
// retried a bounded number of times, then quarantined; never retried forever.
func TestBatchFailingRepeatedlyIsQuarantined(t *testing.T) {
	env, _, bal := setup(t, func(c *app.Config) { c.Log.MaxWriteAttempts = 3; c.Log.RetryMax = 100 * time.Millisecond })
	_, err := env.DB.Exec(`CREATE FUNCTION stuck_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.model = 'stuck' THEN RAISE EXCEPTION 'no room for this row' USING ERRCODE = '53100'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER stuck_log BEFORE INSERT ON usage_daily FOR EACH ROW EXECUTE FUNCTION stuck_log();`)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = env.DB.Exec(`DROP TRIGGER IF EXISTS stuck_log ON usage_daily; DROP FUNCTION IF EXISTS stuck_log()`)
	})

	hr, got := post(t, env, bal, []any{record("stuck-1", time.Now(), map[string]any{"model": "stuck"})})
	require.Equal(t, http.StatusOK, hr.StatusCode)
	assert.Equal(t, 0, got.Accepted)
	assert.Equal(t, map[int]string{0: "record"}, rejectedFields(got))
	var reason string
	require.NoError(t, env.DB.Get(&reason, `SELECT reason FROM log_rejects WHERE request_id = 'stuck-1'`))
	assert.Contains(t, reason, "failed 3 times")

	hr, got = post(t, env, bal, []any{record("stuck-after", time.Now(), nil)})
	require.Equal(t, http.StatusOK, hr.StatusCode)
	assert.Equal(t, 1, got.Accepted)
}

// Issue 13 item 1: readiness and /health report a log pipeline that has
// not committed for longer than log.stall_timeout while records wait.
func TestStalledPipelineIsNotReady(t *testing.T) {
	env, _, bal := setup(t, func(c *app.Config) { c.Log.Ack = "queued"; c.Log.StallTimeout = time.Second })
	status := func(path string) (int, string) {
		res, err := env.HTTP.Get(env.BaseURL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	require.Eventually(t, func() bool { c, _ := status("/readyz"); return c == http.StatusOK }, 5*time.Second, 20*time.Millisecond)

	// Hold a lock the writer needs: it waits without failing, so only the
	// stall detector can tell.
	tx, err := env.DB.Begin()
	require.NoError(t, err)
	_, err = tx.Exec(`LOCK TABLE usage_daily IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)
	released := false
	release := func() {
		if !released {
			released = true
			require.NoError(t, tx.Rollback())
		}
	}
	t.Cleanup(release)

	hr, _ := post(t, env, bal, []any{record("stall-1", time.Now(), nil)})
	require.Equal(t, http.StatusAccepted, hr.StatusCode)
	require.Eventually(t, func() bool { c, _ := status("/readyz"); return c == http.StatusServiceUnavailable }, 10*time.Second, 50*time.Millisecond)
	code, body := status("/health")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "log_pipeline")

	release()
	require.Eventually(t, func() bool { return countLogs(t, env, "stall-") == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { c, _ := status("/readyz"); return c == http.StatusOK }, 5*time.Second, 20*time.Millisecond)
}

// metric reads one unlabelled value from /metrics.
func metric(t *testing.T, env *testenv.Env, name string) float64 {
	t.Helper()
	res, err := env.HTTP.Get(env.BaseURL + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			require.NoError(t, json.Unmarshal([]byte(v), &f))
			return f
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
