package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/testenv"
)

// memPeak samples the Go heap in use until stop, and reports its peak and
// the process's peak RSS (VmHWM, reset at the start through clear_refs).
func memPeak() (stop func() (heapMB, rssMB float64)) {
	runtime.GC()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() (float64, float64) {
		close(done)
		wg.Wait()
		return float64(peak) / (1 << 20), float64(rssKB(os.Getpid(), "VmHWM")) / 1024
	}
}

// TestSnapshotResyncAtScale: the issue-12 figures of the full resync and
// the status call on one large configuration (EZ_BENCH_PROVIDERS, _KEYS,
// _MODELS, _BINDINGS): full resync vs a raw pipelined HSET of the same
// bytes, the process's peak heap and RSS during the resync (the server runs
// in the test process; the test itself holds nothing meanwhile), and
// GET /sync/status latency.
func TestSnapshotResyncAtScale(t *testing.T) {
	testenv.Reset(t) // its own data set: no other benchmark's rows, ids or snapshot
	env := testenv.Start(t, func(c *app.Config) {
		fastSync(c)
		c.Sync.ResyncTimeout = 10 * time.Minute
		c.Server.WriteTimeout = 10 * time.Minute // POST /sync/snapshot waits for the resync
	})
	env.HTTP.Timeout = 10 * time.Minute // a resync of a large configuration
	admin := env.AdminToken(t)
	ctx := context.Background()
	providers, keys := benchScale("PROVIDERS", 10_000), benchScale("KEYS", 100_000)
	seedStart := time.Now()
	populate(t, env, providers, keys, benchScale("MODELS", 10_000), benchScale("BINDINGS", 10_000))
	t.Logf("seeded in %s", time.Since(seedStart))
	res, err := env.Client.ResyncSnapshotWithResponse(ctx, testenv.WithToken(admin)) // warm-up
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))

	stop := memPeak()
	start := time.Now()
	res, err = env.Client.ResyncSnapshotWithResponse(ctx, testenv.WithToken(admin))
	ours := time.Since(start)
	heapMB, rssMB := stop()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	counts := res.JSON200.Counts

	// GET /sync/status: at most 200 calls or one minute.
	var lat []time.Duration
	for deadline := time.Now().Add(time.Minute); len(lat) < 200 && time.Now().Before(deadline); {
		t0 := time.Now()
		st, err := env.Client.GetSyncStatusWithResponse(ctx, testenv.WithToken(admin))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, st.StatusCode())
		lat = append(lat, time.Since(t0))
	}

	t.Logf("resync %s heap %.0f MB rss %.0f MB status p50 %s p99 %s (%d calls)", ours, heapMB, rssMB,
		percentile(lat, 0.5), percentile(lat, 0.99), len(lat))
	rdb := env.Redis(t)
	sections := map[string]map[string]string{}
	bytes := 0
	for _, k := range snapshot.DataKeys { // HSCAN: one HGETALL of a million fields outlasts the read timeout
		sections[k] = map[string]string{}
		for cursor := uint64(0); ; {
			pairs, next, err := rdb.HScan(ctx, k, cursor, "", 5000).Result()
			require.NoError(t, err)
			for i := 0; i+1 < len(pairs); i += 2 {
				sections[k][pairs[i]] = pairs[i+1]
				bytes += len(pairs[i]) + len(pairs[i+1])
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	start = time.Now()
	rawPipelinedHSet(t, rdb, sections)
	raw := time.Since(start)
	for k := range sections {
		rdb.Del(ctx, "bench:raw:"+k)
	}

	sec := "Snapshot at scale (issue 12)"
	explain(sec, "A full resync (`POST /sync/snapshot`) of a configuration seeded by SQL, in the test process's "+
		"server: keys and bindings read through server-side cursors, staged with pipelined HSETs by a background "+
		"writer, swapped in with one MULTI/EXEC. Baseline: pipelined HSET of the same bytes into scratch keys, same run. "+
		"Memory is the whole test process's (server, publisher and the test's own reads).")
	cfg := fmt.Sprintf("%d providers, %d keys, %d models, %d bindings (%.1f MB)", counts[snapshot.KeyProviders],
		counts[snapshot.KeyAuthKeys], counts[snapshot.KeyModels], counts[snapshot.KeyBindings], float64(bytes)/1e6)
	record(sec, row{"full resync end to end, POST /sync/snapshot: " + cfg, ms(ours),
		ms(raw) + " raw pipelined HSET of the same bytes", fmt.Sprintf("%.2f", raw.Seconds()/ours.Seconds()), "≥ 0.5 of raw"})
	record(sec, row{"peak Go heap in use during that resync (whole test process)", fmt.Sprintf("%.0f MB", heapMB), "—", "—", "—"})
	record(sec, row{"peak RSS during that resync (whole test process: server and publisher)", fmt.Sprintf("%.0f MB", rssMB), "—", "—", "≤ 200 MB"})
	record(sec, row{fmt.Sprintf("GET /sync/status p50 (%d calls, that configuration)", len(lat)), ms(percentile(lat, 0.5)), "—", "—", "—"})
	record(sec, row{"GET /sync/status p99", ms(percentile(lat, 0.99)), "—", "—", "p99 ≤ 50 ms"})
	t.Logf("resync %s raw %s heap %.0f MB rss %.0f MB status p50 %s p99 %s (%d calls)", ours, raw, heapMB, rssMB,
		percentile(lat, 0.5), percentile(lat, 0.99), len(lat))
}
