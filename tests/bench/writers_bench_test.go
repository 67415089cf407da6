package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// buildBinary builds the server into path with extra go build flags.
func buildBinary(t *testing.T, path string, flags ...string) string {
	t.Helper()
	args := append(append([]string{"build"}, flags...), "-o", path, "../../cmd/ezapi")
	out, err := exec.Command("go", args...).CombinedOutput()
	require.NoError(t, err, string(out))
	return path
}

// procCPU is the CPU time (user + system) the process used so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	ut, _ := strconv.ParseInt(f[11], 10, 64)                 // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64)                 // field 15
	return time.Duration(ut+st) * 10 * time.Millisecond      // USER_HZ is 100 on Linux
}

func procsCPU(pids []int) (d time.Duration) {
	for _, p := range pids {
		d += procCPU(p)
	}
	return d
}

// machineCPU returns the busy and total jiffies of all CPUs (/proc/stat).
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line := strings.SplitN(string(b), "\n", 2)[0]
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

// adminClient makes an admin service token in the package database and a
// client of the server at addr with room for conns connections.
func adminClient(t *testing.T, db *sqlx.DB, addr string, conns int) (*apiclient.ClientWithResponses, apiclient.RequestEditorFn) {
	t.Helper()
	tok, err := domain.NewToken(domain.TokenService)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO service_tokens (name, role, token_hash, prefix) VALUES ($1, 'admin', $2, $3)`,
		"bench-admin-"+tok.Prefix+strconv.FormatInt(time.Now().UnixNano(), 36), tok.Hash, tok.Prefix)
	require.NoError(t, err)
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := apiclient.NewClientWithResponses("http://"+addr, apiclient.WithHTTPClient(&http.Client{Transport: tr, Timeout: 30 * time.Second}))
	require.NoError(t, err)
	return c, testenv.WithToken(tok.Plaintext)
}

// writerLoad is what one timed run of concurrent writers found.
type writerLoad struct {
	ops      int64
	elapsed  time.Duration
	lat      []time.Duration
	cpu      time.Duration // the server processes' CPU time
	machine  float64       // share of the machine's CPUs busy
	waiting  float64       // mean backends waiting on the version lock (pg_stat_activity samples)
	active   float64       // mean active client backends of the database
	waitFrac float64       // share of samples where at least one backend waited on it
}

// mutate runs the mutation mix of writer w, step i: a provider create, a
// key create, a PATCH of the writer's latest provider, in turn.
func mutate(ctx context.Context, c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, tag string, master int64,
	w, i int, last *int64) error {
	switch i % 3 {
	case 0:
		key := fmt.Sprintf("sk-bench-%s-%d-%d-0123456789abcdef", tag, w, i)
		res, err := c.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: fmt.Sprintf("wb-%s-%d-%d", tag, w, i),
			Type: apiclient.ProviderTypeOpenai, ApiKey: &key, Models: []string{"gpt-4o", "gpt-4o-mini"}}, as)
		if err != nil {
			return err
		}
		if res.JSON201 == nil {
			return fmt.Errorf("create provider: %d %s", res.StatusCode(), res.Body)
		}
		*last = res.JSON201.Id
	case 1:
		res, err := c.IssueMasterKeyWithResponse(ctx, master, apiclient.IssueMasterKeyJSONRequestBody{Name: fmt.Sprintf("wb-%s-%d-%d", tag, w, i)}, as)
		if err != nil {
			return err
		}
		if res.StatusCode() != http.StatusCreated {
			return fmt.Errorf("issue key: %d %s", res.StatusCode(), res.Body)
		}
	default:
		weight := int32(1 + i%100)
		res, err := c.UpdateProviderWithResponse(ctx, *last, apiclient.UpdateProviderJSONRequestBody{Weight: &weight}, as)
		if err != nil {
			return err
		}
		if res.StatusCode() != http.StatusOK {
			return fmt.Errorf("patch provider: %d %s", res.StatusCode(), res.Body)
		}
	}
	return nil
}

// runWriters runs writers concurrent writers against one server for d,
// sampling pg_stat_activity for backends waiting on the version lock.
func runWriters(t *testing.T, db *sqlx.DB, c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, pids []int,
	tag string, master int64, writers int, d time.Duration) writerLoad {
	t.Helper()
	ctx := context.Background()
	var (
		ops         atomic.Int64
		mu          sync.Mutex
		lat         []time.Duration
		wg          sync.WaitGroup
		firstErr    error
		samples     int
		waitSum     int
		waitSamples int
		activeSum   int
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		const q = `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'),
       count(*) FILTER (WHERE state = 'active' AND backend_type = 'client backend')
FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			var waiting, active int
			if err := db.QueryRowx(q).Scan(&waiting, &active); err != nil {
				continue
			}
			samples++
			waitSum += waiting
			activeSum += active
			if waiting > 0 {
				waitSamples++
			}
		}
	}()
	cpu0 := procsCPU(pids)
	busy0, total0 := machineCPU()
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			var last int64
			local := make([]time.Duration, 0, 1024)
			for i := 0; time.Since(start) < d; i++ {
				t0 := time.Now()
				if err := mutate(ctx, c, as, tag, master, w, i, &last); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				local = append(local, time.Since(t0))
				ops.Add(1)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := procsCPU(pids) - cpu0
	busy1, total1 := machineCPU()
	close(stop)
	<-sampled
	require.NoError(t, firstErr)
	out := writerLoad{ops: ops.Load(), elapsed: elapsed, lat: lat, cpu: cpu}
	if total1 > total0 {
		out.machine = float64(busy1-busy0) / float64(total1-total0)
	}
	if samples > 0 {
		out.waiting = float64(waitSum) / float64(samples)
		out.active = float64(activeSum) / float64(samples)
		out.waitFrac = float64(waitSamples) / float64(samples)
	}
	return out
}

// TestConcurrentWriters: provider creates, key creates and provider PATCHes
// through the real binary's HTTP API, from 1 and from 16 concurrent
// writers, and from 16 writers against a build without the version lock
// (build tag ezbench_nolock), in interleaved rounds of the same run, with
// pg_stat_activity sampled for backends waiting on the lock.
// EZ_BENCH_WRITER_ROUNDS (default 3) and EZ_BENCH_WRITER_SECONDS (5) size it.
func TestConcurrentWriters(t *testing.T) {
	testenv.Reset(t) // its own data set: no other benchmark's rows, ids or snapshot
	dir := t.TempDir()
	locked := buildBinary(t, filepath.Join(dir, "ezapi"))
	unlocked := buildBinary(t, filepath.Join(dir, "ezapi-nolock"), "-tags", "ezbench_nolock")
	env := testenv.Environ("EZ_LOG_LEVEL=info")
	lcmd, laddr := runBinary(t, locked, env)
	ucmd, uaddr := runBinary(t, unlocked, env)

	db, err := sqlx.Open("postgres", testenv.DSN())
	require.NoError(t, err)
	defer db.Close()
	lc, las := adminClient(t, db, laddr, 32)
	uc, uas := adminClient(t, db, uaddr, 32)
	ctx := context.Background()
	m, err := lc.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "writers-bench"}, las)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, m.StatusCode(), string(m.Body))
	master := m.JSON201.Master.Id

	type phase struct {
		name    string
		c       *apiclient.ClientWithResponses
		as      apiclient.RequestEditorFn
		writers int
		sum     writerLoad
	}
	phases := []*phase{
		{name: "1 writer", c: lc, as: las, writers: 1},
		{name: "16 writers", c: lc, as: las, writers: 16},
		{name: "16 writers, version lock compiled out", c: uc, as: uas, writers: 16},
	}
	// Both servers' CPU counts: the one that publishes does so for both.
	pids := []int{lcmd.Process.Pid, ucmd.Process.Pid}
	rounds := benchScale("WRITER_ROUNDS", 3)
	each := time.Duration(benchScale("WRITER_SECONDS", 5)) * time.Second
	for i, p := range phases { // warm-up
		runWriters(t, db, p.c, p.as, pids, fmt.Sprintf("warm%d", i), master, p.writers, time.Second)
	}
	for r := range rounds {
		for i, p := range phases {
			l := runWriters(t, db, p.c, p.as, pids, fmt.Sprintf("r%dp%d", r, i), master, p.writers, each)
			s := &p.sum
			s.ops += l.ops
			s.elapsed += l.elapsed
			s.lat = append(s.lat, l.lat...)
			s.cpu += l.cpu
			s.machine += l.machine / float64(rounds)
			s.waiting += l.waiting / float64(rounds)
			s.active += l.active / float64(rounds)
			s.waitFrac += l.waitFrac / float64(rounds)
			t.Logf("round %d %s: %.0f mutations/s, machine CPU %.0f%%, waiting on the version lock %.2f (of %.2f active backends)",
				r, p.name, float64(l.ops)/l.elapsed.Seconds(), 100*l.machine, l.waiting, l.active)
		}
	}
	rate := func(p *phase) float64 { return float64(p.sum.ops) / p.sum.elapsed.Seconds() }
	one, many, free := phases[0], phases[1], phases[2]
	describe := func(p *phase) string {
		return fmt.Sprintf("%.0f mutations/s (p50 %s, p99 %s; server CPU %.2f ms per mutation (both replicas); machine CPU %.0f%% busy; "+
			"backends waiting on the version lock: mean %.2f of %.2f active, in %.0f%% of samples)",
			rate(p), ms(percentile(p.sum.lat, 0.5)), ms(percentile(p.sum.lat, 0.99)),
			float64(p.sum.cpu.Microseconds())/1000/float64(p.sum.ops), 100*p.sum.machine, p.sum.waiting, p.sum.active, 100*p.sum.waitFrac)
	}
	sec := "Concurrent writers (issue 12)"
	explain(sec, "Mix: provider create, key create (`POST /admin/masters/{id}/keys`) and provider PATCH in turn, through "+
		"the real binary's HTTP API; two replicas of the same database; rounds of 1 and 16 writers interleaved; the "+
		"third figure against a build with `-tags ezbench_nolock` (the version assigner's lock compiled out, for this "+
		"comparison only). \"Waiting\" is sampled from `pg_stat_activity` (`wait_event = 'advisory'`) every 10 ms. "+
		"Writers insert outbox rows and take no lock; the publisher numbers committed changes (docs/architecture.md, "+
		"\"The mutation path\").")
	mix := fmt.Sprintf("provider create, key create, provider PATCH in turn, real binary, %d interleaved rounds of %s", rounds, each)
	record(sec, row{"1 writer: " + mix, describe(one), "—", "—", "—"})
	record(sec, row{"16 concurrent writers, same mix", describe(many), fmt.Sprintf("%.0f mutations/s with 1 writer", rate(one)),
		fmt.Sprintf("%.2f", rate(many)/rate(one)), "—"})
	record(sec, row{"16 concurrent writers against a build with the version lock compiled out (ezbench_nolock)", describe(free),
		fmt.Sprintf("%.0f mutations/s with the lock, 16 writers", rate(many)), fmt.Sprintf("%.2f", rate(free)/rate(many)),
		"≈ 1 when the lock is not the limit"})
}
