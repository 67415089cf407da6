package logs_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/testenv"
)

// load posts batches from several goroutines until stop, recording the
// request ids of every batch acknowledged with 200.
type load struct {
	env   *testenv.Env
	token string
	tag   string

	mu     sync.Mutex
	acked  []string
	status map[int]int
	seq    atomic.Int64
}

func (l *load) run(ctx context.Context, workers, batch int) *sync.WaitGroup {
	l.status = map[int]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			client := l.env.HTTP // every answer is held to the contract, 503s included
			for i := 0; i < 10_000 && ctx.Err() == nil; i++ {
				ids := make([]string, batch)
				var b strings.Builder
				b.WriteByte('[')
				for j := range ids {
					ids[j] = fmt.Sprintf("%s-%d-%d", l.tag, w, l.seq.Add(1))
					if j > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"request_id":%q,"created_at":%q,"model":"m","prompt_tokens":1}`, ids[j], time.Now().UTC().Format(time.RFC3339Nano))
				}
				b.WriteByte(']')
				req, _ := http.NewRequest(http.MethodPost, l.env.BaseURL+"/logs", strings.NewReader(b.String()))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+l.token)
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				_ = res.Body.Close()
				l.mu.Lock()
				l.status[res.StatusCode]++
				if res.StatusCode == http.StatusOK {
					l.acked = append(l.acked, ids...)
				}
				l.mu.Unlock()
				if res.StatusCode == http.StatusServiceUnavailable {
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	return &wg
}

// assertExactlyOnce checks every acknowledged record is stored once.
func (l *load) assertExactlyOnce(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.NotEmpty(t, l.acked)
	var dupRows int
	require.NoError(t, l.env.DB.Get(&dupRows, `SELECT count(*) FROM (SELECT request_id FROM logs WHERE request_id LIKE $1
GROUP BY created_at, request_id HAVING count(*) > 1) d`, l.tag+"-%"))
	assert.Zero(t, dupRows, "no record stored twice")
	var present int
	require.NoError(t, l.env.DB.Get(&present, `SELECT count(*) FROM logs WHERE request_id = ANY($1)`, l.acked))
	assert.Equal(t, len(l.acked), present, "every acknowledged record is stored")
	t.Logf("statuses %v, acknowledged records %d", l.status, len(l.acked))
}

// Not parallel: it disturbs the database connections of its server.
func TestPostgresOutageUnderLoad(t *testing.T) {
	proxy := testenv.NewProxy(t, "127.0.0.1:5432")
	env, _, bal := setup(t, func(c *app.Config) {
		c.Postgres.DSN = strings.Replace(testenv.DSN(), "port=5432", "port="+strings.Split(proxy.Addr(), ":")[1], 1)
		c.Log.CommitTimeout = 2 * time.Second
		c.Log.QueueCapacity = 2000
		c.Log.RetryMax = 500 * time.Millisecond
	})
	l := &load{env: env, token: bal, tag: "pgout"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wg := l.run(ctx, 4, 100)
	time.Sleep(time.Second) // sustained load first (ordering, not a timing assertion)
	proxy.Cut()
	time.Sleep(4 * time.Second) // PostgreSQL away
	proxy.Restore(t)
	time.Sleep(2 * time.Second)
	cancel()
	wg.Wait()
	assert.Positive(t, l.status[http.StatusServiceUnavailable], "503s while PostgreSQL is away")
	l.assertExactlyOnce(t)
}

// Not parallel: it kills its server's database sessions.
func TestWriterConnectionKilledMidBatch(t *testing.T) {
	env, _, bal := setup(t)
	l := &load{env: env, token: bal, tag: "kill"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wg := l.run(ctx, 4, 200)
	killed := 0
	for i := 0; i < 40 && killed < 5; i++ {
		var n int
		err := env.DB.Get(&n, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND (query ILIKE 'COPY logs %' OR query ILIKE '%logs_staging%' OR query ILIKE '%INSERT INTO usage_daily AS u%')`)
		require.NoError(t, err)
		killed += n
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	cancel()
	wg.Wait()
	t.Logf("writer sessions terminated: %d", killed)
	assert.Positive(t, killed, "a writer was caught mid-batch")
	l.assertExactlyOnce(t)
}
