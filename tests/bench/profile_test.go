package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// TestProfileHotPath writes CPU profiles of an in-process server under the
// loopback load of the HTTP benchmark (GET /livez and an authenticated GET
// /providers/{id}, 64 connections) to $EZ_BENCH_PROFILE. It is a tool for
// finding where the time goes, not a figure of the report. It also profiles
// sequential provider creates (create.pprof), the write path a create
// costs: request, transaction, audit, outbox, and the publisher's delta,
// then the same into a route group with issue 12's shape at scale
// (create-scale.pprof).
//
//	EZ_BENCH=1 EZ_BENCH_PROFILE=/tmp/prof EZ_BENCH_REPORT=/tmp/prof/report.md \
//	  EZ_TEST_LOG_LEVEL=info go test -run TestProfileHotPath ./tests/bench/ 2>/dev/null
//	go tool pprof -top -focus ServeHTTP /tmp/prof/read.pprof
func TestProfileHotPath(t *testing.T) {
	dir := os.Getenv("EZ_BENCH_PROFILE")
	if dir == "" {
		t.Skip("set EZ_BENCH_PROFILE to a directory to write profiles")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	env := testenv.Start(t)
	tok, err := domain.NewToken(domain.TokenService)
	require.NoError(t, err)
	_, err = env.DB.Exec(`INSERT INTO service_tokens (name, role, token_hash, prefix) VALUES ('prof-viewer', 'viewer', $1, $2)`, tok.Hash, tok.Prefix)
	require.NoError(t, err)
	var pid int64
	require.NoError(t, env.DB.Get(&pid, `INSERT INTO route_groups (name) VALUES ('prof') ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`))
	require.NoError(t, env.DB.Get(&pid, `INSERT INTO providers (name, type, group_id, models) VALUES ('prof', 'openai', $1, '{gpt-4o}') RETURNING id`, pid))

	for _, c := range []struct{ name, path, token string }{
		{"livez", "/livez", ""},
		{"read", fmt.Sprintf("/providers/%d", pid), tok.Plaintext},
	} {
		hammer(t, env.BaseURL+c.path, c.token, 16, time.Second)
		f, err := os.Create(filepath.Join(dir, c.name+".pprof"))
		require.NoError(t, err)
		require.NoError(t, pprof.StartCPUProfile(f))
		rate, lat := hammer(t, env.BaseURL+c.path, c.token, 64, 8*time.Second)
		pprof.StopCPUProfile()
		require.NoError(t, f.Close())
		t.Logf("%s: %.0f req/s, p99 %s", c.name, rate, ms(percentile(lat, 0.99)))
	}

	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	group := "prof"
	models := []string{"m-1", "m-2"}
	create := func(i int) {
		key := fmt.Sprintf("sk-prof-%d-0123456789abcdef", i)
		r, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: fmt.Sprintf("prof-%d", i),
			Type: apiclient.ProviderTypeOpenai, ApiKey: &key, Group: &group, Models: models}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, r.StatusCode(), string(r.Body))
	}
	profileCreates := func(name string, from int) {
		for i := range 50 {
			create(from + i)
		}
		f, err := os.Create(filepath.Join(dir, name))
		require.NoError(t, err)
		require.NoError(t, pprof.StartCPUProfile(f))
		start, n := time.Now(), 0
		for ; n < 5000 && time.Since(start) < 8*time.Second; n++ {
			create(from + 1000 + n)
		}
		pprof.StopCPUProfile()
		require.NoError(t, f.Close())
		t.Logf("%s: %d sequential creates, %.0f/s", name, n, float64(n)/time.Since(start).Seconds())
	}
	profileCreates("create.pprof", 0)

	// The same creates into a route group shaped as issue 12's at scale:
	// 100 providers of 10 models and 100 bindings routing to it, a third
	// of them regex selectors (create-scale.pprof).
	seedScale(t, env.DB, scaleConfig{"profile", 10_000, 2_000, 2_000, 2_000, 100})
	res, err := env.Client.ResyncSnapshotWithResponse(ctx, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	group, models = "bg-1", []string{"um-1", "um-2"}
	profileCreates("create-scale.pprof", 100_000)
}
