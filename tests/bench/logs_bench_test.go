package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

var servingAddr = regexp.MustCompile(`msg=serving .*addr=(\S+)`)

// startBinary runs the real server so its RSS is its own.
func startBinary(t *testing.T, env ...string) (*exec.Cmd, string) {
	t.Helper()
	return startBinaryEnv(t, append(testenv.Environ("EZ_LOG_LEVEL=info"), env...))
}

// startBinaryEnv runs the real server with exactly env.
func startBinaryEnv(t *testing.T, env []string) (*exec.Cmd, string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ezapi")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/ezapi").CombinedOutput()
	require.NoError(t, err, string(out))
	return runBinary(t, bin, env)
}

func rssKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, field+":")), "%d", &kb)
			return kb
		}
	}
	return 0
}

func batchJSON(prefix string, n int, at time.Time) string {
	var b strings.Builder
	b.Grow(n * 330)
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"request_id":"%s-%d","created_at":%q,"key_id":%d,"master_id":%d,"namespace":"default","model":"gpt-4o",`+
			`"provider_id":3,"upstream_model":"gpt-4o-2024-08-06","status_code":200,"latency_ms":812,"ttft_ms":240,`+
			`"prompt_tokens":1200,"completion_tokens":350,"stream":true,"client_ip":"203.0.113.9","balancer_id":"bench","cost_usd":0.01}`,
			prefix, i, at.Add(time.Duration(i)*time.Microsecond).Format(time.RFC3339Nano), 100+i%50, 1+i%10)
	}
	b.WriteByte(']')
	return b.String()
}

// TestLogIngestion: sustained ingestion through POST /logs vs raw COPY and
// the original design's transactions of 10 single-row INSERTs.
func TestLogIngestion(t *testing.T) {
	testenv.Reset(t) // its own data set: no other benchmark's rows, ids or snapshot
	cmd, addr := startBinary(t, strings.Fields(os.Getenv("EZ_BENCH_SERVER_ENV"))...)
	db, err := sqlx.Open("postgres", testenv.DSN())
	require.NoError(t, err)
	defer db.Close()
	tok, err := domain.NewToken(domain.TokenService)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO service_tokens (name, role, token_hash, prefix) VALUES ('bench', 'balancer', $1, $2)`, tok.Hash, tok.Prefix)
	require.NoError(t, err)
	seedLogKeys(t, db)
	rssBefore := rssKB(cmd.Process.Pid, "VmRSS")

	workers, perBatch := 4, 1000
	duration := 15 * time.Second
	var failed, refused atomic.Int64
	// ingest posts batches to addr from the workers for d; it returns the
	// rows acknowledged.
	ingest := func(addr, tag string, d time.Duration) int64 {
		var posted atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := range workers {
			wg.Go(func() {
				client := &http.Client{Timeout: 30 * time.Second}
				for i := 0; time.Since(start) < d; i++ {
					body := batchJSON(fmt.Sprintf("%s%d-%d", tag, w, i), perBatch, start)
					req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/logs", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+tok.Plaintext)
					res, err := client.Do(req)
					if err != nil || res.StatusCode != http.StatusOK {
						failed.Add(1)
						if res != nil {
							res.Body.Close()
						}
						continue
					}
					var ack struct {
						Accepted int64 `json:"accepted"`
					}
					err = json.NewDecoder(res.Body).Decode(&ack)
					res.Body.Close()
					if err != nil || ack.Accepted != int64(perBatch) {
						refused.Add(1) // a record refused: the data set is wrong, the rate meaningless
					}
					posted.Add(ack.Accepted)
				}
			})
		}
		wg.Wait()
		return posted.Load()
	}
	// With EZ_BENCH_BEFORE_BIN (a binary built from an earlier commit) the
	// same run measures it too, in alternating rounds with ours.
	var beforeAddr string
	if before := os.Getenv("EZ_BENCH_BEFORE_BIN"); before != "" {
		_, beforeAddr = runBinary(t, before, append(testenv.Environ("EZ_LOG_LEVEL=info"), strings.Fields(os.Getenv("EZ_BENCH_SERVER_ENV"))...))
	}
	var ourRows, beforeRows int64
	var ourTime, beforeTime time.Duration
	rounds := 1
	if beforeAddr != "" {
		rounds = 2
	}
	for r := range rounds {
		start := time.Now()
		ourRows += ingest(addr, fmt.Sprintf("b%d-", r), duration/time.Duration(rounds))
		ourTime += time.Since(start)
		if beforeAddr != "" {
			start = time.Now()
			beforeRows += ingest(beforeAddr, fmt.Sprintf("o%d-", r), duration/time.Duration(rounds))
			beforeTime += time.Since(start)
		}
	}
	peak := rssKB(cmd.Process.Pid, "VmHWM")
	var stored int64
	require.NoError(t, db.Get(&stored, `SELECT count(*) FROM logs WHERE balancer_id = 'bench'`))
	require.Equal(t, ourRows+beforeRows, stored, "every acknowledged record is stored")
	ours := float64(ourRows) / ourTime.Seconds()

	// Baselines on the same rows into the same logs table: raw COPY, and
	// the original design's 10 single-row INSERTs per transaction.
	rows := 200_000
	start := time.Now()
	tx, err := db.Begin()
	require.NoError(t, err)
	stmt, err := tx.Prepare(`COPY logs (created_at, request_id, key_id, master_id, namespace, model, provider_id, upstream_model, status_code, latency_ms, ttft_ms, prompt_tokens, completion_tokens, cached_tokens, cost_usd, stream, client_ip, error, balancer_id) FROM STDIN`)
	require.NoError(t, err)
	at := time.Now()
	for i := range rows {
		_, err := stmt.Exec(at.Add(time.Duration(i)*time.Microsecond), fmt.Sprintf("raw-%d", i), 100+i%50, 1+i%10, "default", "gpt-4o", 3,
			"gpt-4o-2024-08-06", 200, 812, 240, 1200, 350, 0, 0.01, true, "203.0.113.9", "", "raw")
		require.NoError(t, err)
	}
	_, err = stmt.Exec()
	require.NoError(t, err)
	require.NoError(t, stmt.Close())
	require.NoError(t, tx.Commit())
	raw := float64(rows) / time.Since(start).Seconds()

	orig := 20_000
	start = time.Now()
	ctx := context.Background()
	for i := 0; i < orig; i += 10 {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		for j := i; j < i+10; j++ {
			_, err := tx.Exec(`INSERT INTO logs (created_at, request_id, key_id, master_id, namespace, model, provider_id, upstream_model, status_code, latency_ms, ttft_ms, prompt_tokens, completion_tokens, cached_tokens, cost_usd, stream, client_ip, error, balancer_id)
VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)`, at.Add(time.Duration(j)*time.Microsecond), fmt.Sprintf("orig-%d", j),
				100+j%50, 1+j%10, "default", "gpt-4o", 3, "gpt-4o-2024-08-06", 200, 812, 240, 1200, 350, 0, 0.01, true, "203.0.113.9", "", "orig")
			require.NoError(t, err)
		}
		require.NoError(t, tx.Commit())
	}
	original := float64(orig) / time.Since(start).Seconds()

	sec := "Log ingestion (issue 7)"
	explain(sec, "The real binary with log.ack=committed, loopback clients posting batches of records for a fixed "+
		"time; the baseline is lib/pq's `COPY` of the same rows into the same partitioned `logs` table from the test "+
		"process (no validation, no roll-ups, no idempotency), measured in the same run. Ours keeps every guarantee: "+
		"committed acks, idempotency on (created_at, request_id), per-record rejection, roll-ups and key usage in the "+
		"same transaction.")
	record(sec, row{fmt.Sprintf("sustained ingestion, POST /logs batches of %d from %d loopback clients for %s, log.ack=committed (rows committed/s)", perBatch, workers, duration),
		fmt.Sprintf("%.0f rows/s", ours), fmt.Sprintf("%.0f rows/s raw COPY", raw), fmt.Sprintf("%.2f", ours/raw), "≥ 0.5 of raw COPY"})
	record(sec, row{"same, against the original strategy (transactions of 10 single-row INSERTs)",
		fmt.Sprintf("%.0f rows/s", ours), fmt.Sprintf("%.0f rows/s", original), fmt.Sprintf("%.1f×", ours/original), "≥ 5×"})
	record(sec, row{"server peak RSS during that run (VmHWM of the real binary)", fmt.Sprintf("%.0f MB", float64(peak)/1024),
		fmt.Sprintf("%.0f MB idle before the run", float64(rssBefore)/1024), "—", "≤ 150 MB"})
	if beforeAddr != "" {
		b := float64(beforeRows) / beforeTime.Seconds()
		t.Logf("before binary: %.0f rows/s = %.2f of raw COPY; after: %.0f rows/s = %.2f of raw COPY", b, b/raw, ours, ours/raw)
	}
	t.Logf("failed posts: %d", failed.Load())
	require.Zero(t, refused.Load(), "batches with a refused record")
}
