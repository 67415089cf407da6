package bench_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/testenv"
)

// importKeyCount is the number of keys in the generated exporter file
// (EZ_BENCH_IMPORT_KEYS, default 100,000).
func importKeyCount(t *testing.T) int {
	n := 100000
	if s := os.Getenv("EZ_BENCH_IMPORT_KEYS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	return n
}

func exporterFile(t *testing.T, keys int) []byte {
	type key struct {
		MasterRef     string   `json:"master_ref"`
		OriginalToken string   `json:"original_token"`
		Group         string   `json:"group"`
		Status        string   `json:"status"`
		ModelLimits   []string `json:"model_limits,omitempty"`
		Enabled       bool     `json:"model_limits_enabled,omitempty"`
		AllowIPs      []string `json:"allow_ips,omitempty"`
		QuotaLimit    *int64   `json:"quota_limit,omitempty"`
		OriginalID    int      `json:"_original_id"`
		Plain         bool     `json:"_token_plaintext_available"`
	}
	masters := make([]map[string]any, 100)
	for i := range masters {
		masters[i] = map[string]any{"name": fmt.Sprintf("tenant-%d", i), "group": "default", "max_child_keys": 10,
			"global_qps": 3, "status": "active", "_source_user_id": i + 1}
	}
	ks := make([]key, keys)
	for i := range ks {
		q := int64(500000)
		ks[i] = key{MasterRef: fmt.Sprintf("tenant-%d", i%100), OriginalToken: fmt.Sprintf("bench%043d", i),
			Group: "default", Status: "active", OriginalID: i + 1, Plain: true}
		if i%3 == 0 {
			ks[i].Enabled, ks[i].ModelLimits, ks[i].AllowIPs, ks[i].QuotaLimit = true, []string{"gpt-4o"}, []string{"10.0.0.0/8"}, &q
		}
	}
	body, err := json.Marshal(map[string]any{"version": "1.0.0", "source": map[string]any{"type": "newapi", "version": "bench"},
		"data": map[string]any{"masters": masters, "keys": ks}})
	require.NoError(t, err)
	return body
}

// TestImport100kKeys: POST /admin/import of an exporter file with 100,000
// keys, until every key is in Redis in both token forms, against a raw COPY
// of the same rows in the same run.
func TestImport100kKeys(t *testing.T) {
	testenv.Reset(t) // its own data set: no other benchmark's rows, ids or snapshot
	env := testenv.Start(t, func(c *app.Config) {
		c.Sync.PollInterval = 20 * time.Millisecond
		c.Sync.ReconcileInterval = time.Hour
		c.Server.ReadTimeout, c.Server.WriteTimeout = 5*time.Minute, 5*time.Minute
	})
	admin := env.AdminToken(t)
	ctx := context.Background()
	rdb := env.Redis(t)
	n := importKeyCount(t)
	body := exporterFile(t, n)

	baseline := rawKeyCopy(t, env, n)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.BaseURL+"/admin/import", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+admin)
	start := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	committed := time.Since(start)
	var rep struct {
		Keys struct{ Imported int } `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rep))
	require.Equal(t, n, rep.Keys.Imported)
	t.Logf("%d keys committed in %s (raw COPY baseline %s)", n, committed, baseline)

	last := sha256.Sum256([]byte(fmt.Sprintf("bench%043d", n-1)))
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if ok, err := rdb.HExists(ctx, "auth:keys", hex.EncodeToString(last[:])).Result(); err == nil && ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	inRedis := time.Since(start)
	t.Logf("last key in Redis after %s", inRedis)
	fields, err := rdb.HLen(ctx, "auth:keys").Result()
	require.NoError(t, err)
	require.EqualValues(t, 2*n, fields, "both token forms of every key")

	sec := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	record("Import (issue 17)", row{fmt.Sprintf("POST /admin/import of %d keys (100 masters, 1.6 MB per 4,000 keys), committed", n),
		sec(committed), sec(baseline) + " raw COPY of the rows", fmt.Sprintf("%.1f×", committed.Seconds()/baseline.Seconds()), "< 60 s"})
	record("Import (issue 17)", row{fmt.Sprintf("… until all %d auth:keys fields (both forms) are in Redis", 2*n),
		sec(inRedis), "—", "—", "< 60 s"})
}

// rawKeyCopy is the baseline: COPY of n key-shaped rows into a scratch table.
func rawKeyCopy(t *testing.T, env *testenv.Env, n int) time.Duration {
	_, err := env.DB.Exec(`CREATE TEMP TABLE IF NOT EXISTS bench_keys (LIKE keys INCLUDING DEFAULTS)`)
	require.NoError(t, err)
	start := time.Now()
	tx, err := env.DB.Begin()
	require.NoError(t, err)
	stmt, err := tx.Prepare(`COPY bench_keys (id, master_id, name, prefix, token_hash, alias_token_hash, group_name, status, issued_by)
		FROM STDIN`)
	require.NoError(t, err)
	for i := 0; i < n; i++ {
		h := sha256.Sum256([]byte(strconv.Itoa(i)))
		_, err := stmt.Exec(i+1, 1, "k", "sk-x", hex.EncodeToString(h[:]), hex.EncodeToString(h[:]), "default", "active", "import")
		require.NoError(t, err)
	}
	_, err = stmt.Exec()
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	return time.Since(start)
}
