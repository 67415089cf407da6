package lifecycle_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/testenv"
)

// SIGTERM while balancers post logs: every record acknowledged with 200 is
// in PostgreSQL once the process has exited 0.
func TestSIGTERMUnderLogLoadLosesNothingAcknowledged(t *testing.T) {
	cmd, addr, logs := start(t)
	db, err := sqlx.Open("postgres", testenv.DSN())
	require.NoError(t, err)
	defer db.Close()
	tok, err := domain.NewToken(domain.TokenService)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO service_tokens (name, role, token_hash, prefix) VALUES ('drain', 'balancer', $1, $2)`, tok.Hash, tok.Prefix)
	require.NoError(t, err)

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for w := range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: 20 * time.Second}
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ids := make([]string, 100)
				var b strings.Builder
				b.WriteByte('[')
				for j := range ids {
					ids[j] = fmt.Sprintf("drain-%d-%d-%d", w, i, j)
					if j > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"request_id":%q,"created_at":%q,"model":"m"}`, ids[j], time.Now().UTC().Format(time.RFC3339Nano))
				}
				b.WriteByte(']')
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/logs", strings.NewReader(b.String()))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok.Plaintext)
				res, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				_ = res.Body.Close()
				if res.StatusCode == http.StatusOK {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(time.Second) // under load (ordering, not a timing assertion)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit 0; logs:\n%s", logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after SIGTERM; logs:\n%s", logs)
	}
	close(stop)
	wg.Wait()

	require.NotEmpty(t, acked)
	var present int
	require.NoError(t, db.Get(&present, `SELECT count(*) FROM logs WHERE request_id = ANY($1)`, acked))
	assert.Equal(t, len(acked), present, "every acknowledged record was committed before exit")
	t.Logf("acknowledged %d records before shutdown", len(acked))
}
