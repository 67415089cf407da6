package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/testenv"
)

// listServer is a real binary over its own database holding n providers.
type listServer struct {
	addr, token, middle string // middle: the cursor of the page in the middle of the table
}

// startListServer migrates a fresh database, seeds n providers (the scale
// bench's shape, upstream keys encrypted as the server does), starts the
// binary on it with its own Redis key prefix and finds the cursor of the
// middle page by walking the pages.
func startListServer(t *testing.T, bin string, n int) listServer {
	t.Helper()
	prefix := fmt.Sprintf("lists-%d:", n)
	env := append(httpBenchEnv(t), "EZ_PG_DSN="+ownBenchDatabase(t, fmt.Sprintf("lists%d", n)), "EZ_REDIS__KEY_PREFIX="+prefix)
	dsn := ownDSN(env)
	migrate := exec.Command(bin, "migrate", "up")
	migrate.Env = env
	out, err := migrate.CombinedOutput()
	require.NoError(t, err, string(out))
	db, err := sqlx.Open("postgres", dsn)
	require.NoError(t, err)
	defer db.Close()
	seedScale(t, db, scaleConfig{name: "lists", providers: n, models: 10, masters: 1})
	tok, err := domain.NewToken(domain.TokenService)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO service_tokens (name, role, token_hash, prefix) VALUES ('bench-lists', 'viewer', $1, $2)`, tok.Hash, tok.Prefix)
	require.NoError(t, err)
	_, addr := runBinary(t, bin, env)
	t.Cleanup(func() { cleanPrefix(prefix) })

	s := listServer{addr: addr, token: tok.Plaintext}
	cursor := ""
	for range n / 200 { // half the pages of 100
		var page struct {
			NextCursor *string `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(getBody(t, s.url(cursor), s.token), &page))
		require.NotNil(t, page.NextCursor)
		cursor = *page.NextCursor
	}
	s.middle = cursor
	return s
}

func (s listServer) url(cursor string) string {
	u := "http://" + s.addr + "/providers?limit=100"
	if cursor != "" {
		u += "&cursor=" + url.QueryEscape(cursor)
	}
	return u
}

// getBody GETs u (with token, if any) and returns the body of its 200.
func getBody(t *testing.T, u, token string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	return b
}

// cleanPrefix deletes the Redis keys a server with that key prefix wrote.
func cleanPrefix(prefix string) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DB: testenv.RedisDB()})
	defer rdb.Close()
	ctx := context.Background()
	keys, _ := rdb.Keys(ctx, prefix+"*").Result()
	if len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
}

// TestListPages: GET /providers?limit=100 over 100,000 providers against
// the same request over 1,000, first page and a page in the middle of the
// table, interleaved: a keyset page that reads the index in order and joins
// only the page costs the same whatever the table's size.
func TestListPages(t *testing.T) {
	bin := buildBinary(t, t.TempDir()+"/ezapi")
	small, large := 1_000, benchScale("LIST_PROVIDERS", 100_000)
	s, l := startListServer(t, bin, small), startListServer(t, bin, large)
	res := interleave(t, 4, 2*time.Second,
		target{s.url(""), s.token}, target{l.url(""), l.token},
		target{s.url(s.middle), s.token}, target{l.url(l.middle), l.token})

	sec := "List pages (issue 14)"
	explain(sec, fmt.Sprintf("Two real binaries, each over its own database: %d providers and %d providers (seeded by SQL in "+
		"route groups of 100, upstream keys encrypted as the server does, then ANALYZE). The same request against "+
		"each, interleaved over 4 rounds of 2 s, 64 connections, a viewer service token. The middle page is reached by "+
		"following `next_cursor`. A keyset page reads the index in order and joins only its rows, so the ratio stays "+
		"near 1 whatever the table's size; TestListPlansWithoutStatistics (in `make test`) asserts the plans.", large, small))
	for i, page := range []string{"first page", "a page in the middle of the table (keyset cursor)"} {
		sm, lg := res[2*i], res[2*i+1]
		record(sec, row{fmt.Sprintf("GET /providers?limit=100, %s, %d providers, viewer token, 64 connections", page, large),
			fmt.Sprintf("%.0f req/s, p50 %s, p99 %s", lg.rate, ms(percentile(lg.lat, 0.5)), ms(percentile(lg.lat, 0.99))),
			fmt.Sprintf("%.0f req/s over %d providers, p99 %s", sm.rate, small, ms(percentile(sm.lat, 0.99))),
			fmt.Sprintf("%.2f", lg.rate/sm.rate), "flat in table size (≈ 1)"})
	}
}
