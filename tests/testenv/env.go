// Package testenv runs ezapi in-process for the black-box suites: a fresh
// PostgreSQL database and a Redis DB index of its own per test package, the
// server built through the same wire injector as `ezapi serve`, and a
// generated client whose every response is checked against openapi.yaml.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // postgres driver for the admin connection
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/apiclient"
)

// Package-wide resources created by Main.
var pkg struct {
	dbName  string
	dsn     string
	redisDB int
	checker *Checker
	// jwtSecret is shared by every server the package starts.
	jwtSecret string
}

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// PGAdminDSN reaches the server's maintenance database.
func PGAdminDSN() string {
	return getenv("EZ_TEST_PG_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable")
}

// RedisAddr is the Redis the suites use.
func RedisAddr() string { return getenv("EZ_TEST_REDIS_ADDR", "127.0.0.1:6379") }

// leaseKey marks a Redis DB index as taken by a running test package.
const leaseKey = "ezapi:test:lease"

// Main gives the package its own database and Redis DB index, runs the
// tests and removes both. Call it from TestMain: os.Exit(testenv.Main(m)).
func Main(m *testing.M) int {
	ctx := context.Background()
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	pkg.dbName = "ezapi_t_" + hex.EncodeToString(suffix)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	pkg.jwtSecret = hex.EncodeToString(secret)

	admin, err := sqlx.Open("postgres", PGAdminDSN())
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pkg.dbName); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: create database (is PostgreSQL up? run scripts/services.sh):", err)
		return 1
	}
	defer func() {
		// EZ_TEST_KEEP_DB=1 keeps the database for inspection (psql, EXPLAIN);
		// drop it by hand afterwards.
		if os.Getenv("EZ_TEST_KEEP_DB") != "" {
			fmt.Fprintln(os.Stderr, "testenv: kept database", pkg.dbName)
			return
		}
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pkg.dbName+" WITH (FORCE)")
	}()
	pkg.dsn = fmt.Sprintf("%s dbname=%s", PGAdminDSN(), pkg.dbName)

	release, err := leaseRedisDB(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer release()

	if pkg.checker, err = NewChecker(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: load contract:", err)
		return 1
	}
	code := m.Run()
	if dir := os.Getenv("EZ_COVERAGE_DIR"); dir != "" {
		if err := pkg.checker.WriteExercised(dir); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: contract coverage:", err)
			return 1
		}
	}
	return code
}

// leaseRedisDB takes the first free DB index in 1..15 with SET NX and
// flushes it; the lease expires by itself if the process dies.
func leaseRedisDB(ctx context.Context) (func(), error) {
	host, _ := os.Hostname()
	owner := host + ":" + strconv.Itoa(os.Getpid())
	for db := 1; db <= 15; db++ {
		rdb := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: db})
		ok, err := rdb.SetNX(ctx, leaseKey, owner, 30*time.Minute).Result()
		if err != nil {
			_ = rdb.Close()
			return nil, fmt.Errorf("lease a Redis DB (is Redis up? run scripts/services.sh): %w", err)
		}
		if !ok {
			_ = rdb.Close()
			continue
		}
		pkg.redisDB = db
		// Start clean, but keep the lease.
		keys, _ := rdb.Keys(ctx, "*").Result()
		for _, k := range keys {
			if k != leaseKey {
				rdb.Del(ctx, k)
			}
		}
		return func() {
			rdb.FlushDB(context.Background())
			_ = rdb.Close()
		}, nil
	}
	return nil, fmt.Errorf("no free Redis DB index in 1..15")
}

// Reset gives the package an empty database under the same name (dropped
// and created again; servers apply the migrations when they start) and
// clears its Redis DB index. Suites whose tests each load a large data set
// of their own (the benchmarks) call it first, so no test sees another's
// rows, ids or snapshot. Nothing may still use the old database.
func Reset(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	admin, err := sqlx.Open("postgres", PGAdminDSN())
	require.NoError(t, err)
	defer admin.Close()
	_, err = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pkg.dbName+" WITH (FORCE)")
	require.NoError(t, err)
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+pkg.dbName)
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: pkg.redisDB})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	require.NoError(t, err)
	for _, k := range keys {
		if k != leaseKey {
			require.NoError(t, rdb.Del(ctx, k).Err())
		}
	}
	require.NoError(t, rdb.Expire(ctx, leaseKey, 30*time.Minute).Err()) // a long run keeps its index
}

// DSN is the package database's connection string.
func DSN() string { return pkg.dsn }

// RedisDB is the package's Redis DB index.
func RedisDB() int { return pkg.redisDB }

// Environ is the environment a test server is configured from: only the
// package's own database and Redis, whatever the developer's shell holds.
func Environ(extra ...string) []string {
	env := []string{
		"EZ_MODE=development",
		"EZ_API_PORT=0",
		"EZ_PG_DSN=" + pkg.dsn,
		"EZ_REDIS_ADDR=" + RedisAddr(),
		"EZ_REDIS__DB=" + strconv.Itoa(pkg.redisDB),
		"EZ_LOG_LEVEL=" + getenv("EZ_TEST_LOG_LEVEL", "warn"),
		"EZ_CONFIG_FILE=" + os.DevNull,
		// Suites hammer one server from 127.0.0.1; rate-limit tests opt in.
		"EZ_RATELIMIT__ENABLED=false",
	}
	return append(env, extra...)
}

// Env is one running server and the clients to reach it.
type Env struct {
	BaseURL string
	Server  *app.Server
	Config  app.Config
	// Client is the generated client; every response is checked against the contract.
	Client *apiclient.ClientWithResponses
	// HTTP is a plain client with the same contract check, for raw requests.
	HTTP *http.Client
	// DB reaches the package database directly, for assertions.
	DB *sqlx.DB
}

// Option adjusts the configuration before the server is built.
type Option func(*app.Config)

// Start runs a server for the test and stops it at cleanup.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	require.NotEmpty(t, pkg.dsn, "call testenv.Main from TestMain")
	cfg, err := app.LoadConfig(Environ())
	require.NoError(t, err)
	// Development generates a JWT secret per start; the package's servers
	// share one, as replicas do, so a token works on each of them.
	cfg.Auth.JWTSecret, cfg.Auth.JWTSecretGenerated = pkg.jwtSecret, false
	for _, o := range opts {
		o(&cfg)
	}
	var out io.Writer = io.Discard
	if os.Getenv("EZ_TEST_LOG_LEVEL") != "" {
		out = os.Stderr
	}
	srv, cleanup, err := app.InitializeServer(cfg, out)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, srv.Start(ctx))
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cleanup()
	})

	base := "http://" + srv.Addr()
	httpClient := &http.Client{
		Timeout:   15 * time.Second,
		Transport: &Transport{Base: http.DefaultTransport, Checker: pkg.checker, Report: t.Errorf},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	client, err := apiclient.NewClientWithResponses(base, apiclient.WithHTTPClient(httpClient))
	require.NoError(t, err)
	db, err := sqlx.Open("postgres", pkg.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return &Env{BaseURL: base, Server: srv, Config: cfg, Client: client, HTTP: httpClient, DB: db}
}

// Checked returns the package's contract checker.
func Checked() *Checker { return pkg.checker }

// Redis returns a client on the package's Redis DB index.
func (e *Env) Redis(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: pkg.redisDB})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}
