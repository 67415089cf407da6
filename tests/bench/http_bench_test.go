package bench_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/nullable"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/app"
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

// target is one URL (and credential) measured by interleave.
type target struct{ url, token string }

// measured is what interleave found for one target.
type measured struct {
	rate float64
	lat  []time.Duration
}

// interleave measures every target in turn, rounds times for each
// (64 connections), so that a change in the machine's load during the run
// (the CPUs are shared) hits every target alike and the ratios hold.
func interleave(t *testing.T, rounds int, each time.Duration, targets ...target) []measured {
	t.Helper()
	out := make([]measured, len(targets))
	busy := make([]time.Duration, len(targets))
	for _, tg := range targets {
		hammer(t, tg.url, tg.token, 16, 500*time.Millisecond) // warm-up
	}
	for range rounds {
		for i, tg := range targets {
			rate, lat := hammer(t, tg.url, tg.token, 64, each)
			out[i].lat = append(out[i].lat, lat...)
			busy[i] += each
			_ = rate
		}
	}
	for i := range out {
		out[i].rate = float64(len(out[i].lat)) / busy[i].Seconds()
	}
	return out
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

// floorEcho is the baseline of an authenticated read: bare Echo, no
// middleware, the server's pool (postgres.Open with the default sizes), the
// same SELECT by primary key (the provider repository itself) and the same
// JSON body.
func floorEcho(t *testing.T) string {
	t.Helper()
	cfg, err := app.LoadConfig(testenv.Environ())
	require.NoError(t, err)
	db, err := postgres.Open(postgres.Options{DSN: testenv.DSN(), MaxOpenConns: cfg.Postgres.MaxOpenConns,
		MaxIdleConns: cfg.Postgres.MaxIdleConns, ConnMaxLifetime: cfg.Postgres.ConnMaxLifetime, ConnMaxIdleTime: cfg.Postgres.ConnMaxIdleTime})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	repo := postgres.NewProviderRepository(db)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/livez", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/providers/:id", func(c echo.Context) error {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			return echo.ErrBadRequest
		}
		p, err := repo.Get(c.Request().Context(), id)
		if err != nil {
			return err
		}
		project, location := nullable.NewNullNullable[string](), nullable.NewNullNullable[string]()
		if p.GoogleProject != "" {
			project = nullable.NewNullableWithValue(p.GoogleProject)
		}
		if p.GoogleLocation != "" {
			location = nullable.NewNullableWithValue(p.GoogleLocation)
		}
		return c.JSON(http.StatusOK, gen.Provider{Id: p.ID, Name: p.Name, Type: gen.ProviderType(p.Type), BaseUrl: p.BaseURL,
			ApiKey: p.APIKeyMask, GoogleProject: project, GoogleLocation: location, Group: p.Group, GroupId: p.GroupID,
			Models: p.Models, Weight: int32(p.Weight), Priority: int32(p.Priority), Status: gen.ProviderStatus(p.Status),
			AutoBan: p.AutoBan, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: e}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

// httpBenchEnv is the environment of the HTTP benchmark's server: access
// log on (info), rate limiting on with rules generous enough to admit.
func httpBenchEnv(t *testing.T) []string {
	t.Helper()
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
	return append(env, "EZ_CONFIG_FILE="+cfgFile, "EZ_LOG_LEVEL=info")
}

// runBinary runs a prebuilt server binary with env and returns its address.
func runBinary(t *testing.T, bin string, env []string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stderr)
		for {
			line, err := r.ReadString('\n')
			if m := servingAddr.FindStringSubmatch(line); m != nil {
				addr <- m[1]
				break
			}
			if err != nil {
				return
			}
		}
		// Then only drain the access log: matching every line would take
		// CPU from the load generator (and from the baselines it drives).
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case a := <-addr:
		return cmd, a
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
		return nil, ""
	}
}

// TestHTTPOverhead: the full middleware stack vs a bare Echo handler, an
// authenticated read at 64 connections vs the floor handler, and idle RSS.
// With EZ_BENCH_BEFORE_BIN (a binary built from an earlier commit) the same
// run also measures that binary, for before/after figures.
func TestHTTPOverhead(t *testing.T) {
	testenv.Reset(t) // its own data set: no other benchmark's rows, ids or snapshot
	env := httpBenchEnv(t)
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
	floor := floorEcho(t)
	d := 8 * time.Second
	readPath := fmt.Sprintf("/providers/%d", pid)

	// The floor answers exactly what the server does.
	require.JSONEq(t, string(getBody(t, "http://"+addr+readPath, tok.Plaintext)), string(getBody(t, floor+readPath, "")))

	targets := []target{{base + "/livez", ""}, {"http://" + addr + "/livez", ""}, {floor + readPath, ""},
		{"http://" + addr + readPath, tok.Plaintext}}
	var beforeAddr string
	var beforeIdle int64
	if before := os.Getenv("EZ_BENCH_BEFORE_BIN"); before != "" {
		bcmd, baddr := runBinary(t, before, env)
		time.Sleep(2 * time.Second)
		beforeIdle, beforeAddr = rssKB(bcmd.Process.Pid, "VmRSS"), baddr
		targets = append(targets, target{"http://" + baddr + "/livez", ""}, target{"http://" + baddr + readPath, tok.Plaintext})
	}
	res := interleave(t, 4, d/4, targets...)
	bare, bareLat := res[0].rate, res[0].lat
	ours, oursLat := res[1].rate, res[1].lat
	floorRead, floorLat := res[2].rate, res[2].lat
	read, readLat := res[3].rate, res[3].lat

	sec := "HTTP edge (issues 8, 14)"
	explain(sec, "The real binary (access log at info, rate limiting on with rules that admit everything) against, "+
		"in the same process as the load generator, a bare Echo handler (for /livez) and a *floor* handler: bare Echo, "+
		"the server's pool, the same `SELECT` by primary key through the provider repository and the same JSON (checked "+
		"equal before measuring). Closed loop, 64 loopback connections, targets measured in turn over 4 rounds so a change "+
		"in the machine's load hits each alike. On 2 cores the load generator, the server and PostgreSQL share the CPUs, "+
		"so a p99 is bounded by the closed loop (64 connections at N req/s wait 64/N s on average, Little's law). "+
		"Idle RSS is VmRSS of the real binary 2 s after it started serving.")
	record(sec, row{"GET /livez through every middleware, 64 loopback connections",
		fmt.Sprintf("%.0f req/s (p99 %s)", ours, ms(percentile(oursLat, 0.99))),
		fmt.Sprintf("%.0f req/s bare Echo handler (p99 %s)", bare, ms(percentile(bareLat, 0.99))),
		fmt.Sprintf("%.2f", ours/bare), "≥ 0.6 of bare"})
	record(sec, row{"GET /providers/{id} with a service token, 64 connections",
		fmt.Sprintf("%.0f req/s, p50 %s, p99 %s", read, ms(percentile(readLat, 0.5)), ms(percentile(readLat, 0.99))),
		fmt.Sprintf("%.0f req/s floor handler (bare Echo, same pool, same SELECT, same JSON), p99 %s", floorRead, ms(percentile(floorLat, 0.99))),
		fmt.Sprintf("%.2f", read/floorRead), "≥ 0.8 of floor, p99 ≤ 15 ms"})
	record(sec, row{"idle RSS after start (real binary)", fmt.Sprintf("%.1f MB", float64(idle)/1024), "—", "—", "≤ 30 MB"})

	if beforeAddr != "" {
		bl, bLat, br, brLat := res[4].rate, res[4].lat, res[5].rate, res[5].lat
		t.Logf("before binary: livez %.0f req/s (p99 %s) = %.2f of bare; read %.0f req/s (p50 %s, p99 %s) = %.2f of floor; idle RSS %.1f MB",
			bl, ms(percentile(bLat, 0.99)), bl/bare, br, ms(percentile(brLat, 0.5)), ms(percentile(brLat, 0.99)), br/floorRead, float64(beforeIdle)/1024)
		t.Logf("after binary: livez %.0f req/s (p99 %s) = %.2f of bare; read %.0f req/s (p50 %s, p99 %s) = %.2f of floor; idle RSS %.1f MB",
			ours, ms(percentile(oursLat, 0.99)), ours/bare, read, ms(percentile(readLat, 0.5)), ms(percentile(readLat, 0.99)), read/floorRead, float64(idle)/1024)
	}
}
