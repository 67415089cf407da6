package bench_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/testenv"
)

// hammer sends GETs from conns loopback connections for d and returns
// requests/s and the latencies.
func hammer(t *testing.T, url, token string, conns int, d time.Duration) (float64, []time.Duration) {
	t.Helper()
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			local := make([]time.Duration, 0, 4096)
			for time.Since(start) < d {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode == http.StatusOK {
					local = append(local, time.Since(t0))
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return float64(len(lat)) / time.Since(start).Seconds(), lat
}

// bareEcho is the baseline: Echo with one handler and no middleware.
func bareEcho(t *testing.T) string {
	t.Helper()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/livez", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: e}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

// TestHTTPOverhead: the full middleware stack vs a bare Echo handler, an
// authenticated read at 64 connections, and idle RSS.
func TestHTTPOverhead(t *testing.T) {
	// Rate limiting on with generous rules, so the limiter runs but admits.
	cfgFile := filepath.Join(t.TempDir(), "bench.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(`ratelimit:
  enabled: true
  rules:
    - {name: per-ip, scope: ip, algorithm: sliding_window, limit: 100000000, window: 1m}
    - {name: per-principal, scope: principal, algorithm: token_bucket, limit: 100000000, window: 1s, burst: 100000000}
`), 0o600))
	var env []string
	for _, kv := range testenv.Environ() {
		if !strings.HasPrefix(kv, "EZ_CONFIG_FILE=") && !strings.HasPrefix(kv, "EZ_RATELIMIT__") && !strings.HasPrefix(kv, "EZ_LOG_LEVEL=") {
			env = append(env, kv)
		}
	}
	env = append(env, "EZ_CONFIG_FILE="+cfgFile, "EZ_LOG_LEVEL=info")
	cmd, addr := startBinaryEnv(t, env)
	time.Sleep(2 * time.Second) // settle before reading idle RSS (not an assertion)
	idle := rssKB(cmd.Process.Pid, "VmRSS")

	db, err := sqlx.Open("postgres", testenv.DSN())
	require.NoError(t, err)
	defer db.Close()
	tok, err := domain.NewToken(domain.TokenService)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO service_tokens (name, role, token_hash, prefix) VALUES ('bench-viewer', 'viewer', $1, $2)`, tok.Hash, tok.Prefix)
	require.NoError(t, err)
	var pid int64
	require.NoError(t, db.Get(&pid, `INSERT INTO route_groups (name) VALUES ('http-bench') ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`))
	require.NoError(t, db.Get(&pid, `INSERT INTO providers (name, type, group_id, models) VALUES ('http-bench', 'openai', $1, '{gpt-4o}') RETURNING id`, pid))

	base := bareEcho(t)
	d := 8 * time.Second
	hammer(t, base+"/livez", "", 16, time.Second) // warm-up
	bare, bareLat := hammer(t, base+"/livez", "", 64, d)
	hammer(t, "http://"+addr+"/livez", "", 16, time.Second)
	ours, oursLat := hammer(t, "http://"+addr+"/livez", "", 64, d)
	readURL := fmt.Sprintf("http://%s/providers/%d", addr, pid)
	hammer(t, readURL, tok.Plaintext, 16, time.Second)
	read, readLat := hammer(t, readURL, tok.Plaintext, 64, d)

	sec := "HTTP edge (issue 8)"
	record(sec, row{"GET /livez through every middleware, 64 loopback connections",
		fmt.Sprintf("%.0f req/s (p99 %s)", ours, ms(percentile(oursLat, 0.99))),
		fmt.Sprintf("%.0f req/s bare Echo handler (p99 %s)", bare, ms(percentile(bareLat, 0.99))),
		fmt.Sprintf("%.2f", ours/bare), "≥ 0.6 of bare"})
	record(sec, row{"GET /providers/{id} with a service token, 64 connections",
		fmt.Sprintf("%.0f req/s, p50 %s, p99 %s", read, ms(percentile(readLat, 0.5)), ms(percentile(readLat, 0.99))),
		fmt.Sprintf("%.0f req/s bare Echo handler", bare), fmt.Sprintf("%.2f", read/bare), "≥ 0.25 of bare, p99 ≤ 25 ms"})
	record(sec, row{"idle RSS after start (real binary)", fmt.Sprintf("%.1f MB", float64(idle)/1024), "—", "—", "≤ 30 MB"})
}
