package bench_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// countingProxy forwards loopback TCP connections to a target and counts
// the bursts the client side sends: a request/response protocol (the
// PostgreSQL wire protocol as lib/pq speaks it, RESP as go-redis does)
// sends one burst per round trip, whatever it batches into it.
type countingProxy struct {
	ln     net.Listener
	target string
	sends  atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &countingProxy{ln: ln, target: target}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						p.sends.Add(1)
						if _, werr := up.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				_ = up.Close()
			}()
			go func() {
				_, _ = io.Copy(c, up)
				_ = c.Close()
			}()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *countingProxy) port() string {
	_, port, _ := net.SplitHostPort(p.ln.Addr().String())
	return port
}

// createServer is one binary serving its own database and Redis prefix,
// both reached through counting proxies.
type createServer struct {
	name      string
	cmd       *exec.Cmd
	client    *apiclient.ClientWithResponses
	as        apiclient.RequestEditorFn
	pg, redis *countingProxy
	prefix    string
}

// createCost is what a round of sequential creates cost a server.
type createCost struct {
	n                 int
	elapsed, cpu      time.Duration
	pgSends, rdbSends int64
}

func (c *createCost) add(o createCost) {
	c.n += o.n
	c.elapsed += o.elapsed
	c.cpu += o.cpu
	c.pgSends += o.pgSends
	c.rdbSends += o.rdbSends
}

func (c createCost) String() string {
	return fmt.Sprintf("%.2f ms CPU, %.1f PostgreSQL and %.1f Redis round trips per create, %.0f creates/s",
		float64(c.cpu.Microseconds())/1000/float64(c.n), float64(c.pgSends)/float64(c.n), float64(c.rdbSends)/float64(c.n),
		float64(c.n)/c.elapsed.Seconds())
}

// TestCreateCost: what one provider create costs the publishing replica
// (the real binary), from the request to the snapshot delta in Redis:
// its CPU time (/proc/<pid>/stat), and the round trips it makes to
// PostgreSQL and to Redis (bursts counted by a loopback proxy on each),
// over sequential creates. The database holds a configuration shaped as
// issue 12's per route group (100 providers of 10 models and 100 bindings,
// a third of them regex, routing to the group the creates go to);
// EZ_BENCH_CREATE_SCALE=empty runs on an empty one. With
// EZ_BENCH_BEFORE_BIN the same rounds also run against that binary, on a
// database of its own seeded alike, and its figures are logged.
func TestCreateCost(t *testing.T) {
	ctx := context.Background()
	bin := buildBinary(t, t.TempDir()+"/ezapi")
	seeded := os.Getenv("EZ_BENCH_CREATE_SCALE") != "empty"
	cfg := scaleConfig{"create", 10_000, 2_000, 2_000, 2_000, 100}
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DB: testenv.RedisDB()})
	defer rdb.Close()

	start := func(name, bin string) *createServer {
		dsn := ownBenchDatabase(t, "create_"+name)
		db, err := sqlx.Open("postgres", dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		prefix := "create-" + name + ":"
		pg := newCountingProxy(t, "127.0.0.1:5432")
		rp := newCountingProxy(t, testenv.RedisAddr())
		env := append(testenv.Environ("EZ_LOG_LEVEL=info"), "EZ_PG_DSN="+dsn+" host=127.0.0.1 port="+pg.port(),
			"EZ_REDIS_ADDR=127.0.0.1:"+rp.port(), "EZ_REDIS__KEY_PREFIX="+prefix,
			// No background work inside the measured rounds beyond what a
			// create causes: changes wake the publisher themselves.
			"EZ_SYNC__POLL_INTERVAL=1h", "EZ_SYNC__RECONCILE_INTERVAL=1h")
		migrate := exec.Command(bin, "migrate", "up")
		migrate.Env = env
		out, err := migrate.CombinedOutput()
		require.NoError(t, err, string(out))
		if seeded {
			seedScale(t, db, cfg)
		}
		cmd, addr := runBinary(t, bin, env)
		c, as := adminClient(t, db, addr, 4)
		t.Cleanup(func() {
			keys, _ := rdb.Keys(ctx, prefix+"*").Result()
			if len(keys) > 0 {
				rdb.Del(ctx, keys...)
			}
		})
		s := &createServer{name: name, cmd: cmd, client: c, as: as, pg: pg, redis: rp, prefix: prefix}
		// Published at start-up (a full build) before anything is measured.
		probe := s.round(t, rdb, "probe", 1)
		require.Equal(t, 1, probe.n)
		return s
	}
	servers := []*createServer{start("ours", bin)}
	if before := os.Getenv("EZ_BENCH_BEFORE_BIN"); before != "" {
		servers = append(servers, start("before", before))
	}

	n := benchScale("CREATES", 200)
	rounds := 3
	costs := make([]createCost, len(servers))
	var idle []createCost
	for r := range rounds + 1 {
		for i, s := range servers {
			c := s.round(t, rdb, fmt.Sprintf("r%d", r), n)
			if r > 0 { // the first round warms up
				costs[i].add(c)
			}
		}
	}
	alone := make([]createCost, len(servers))
	for i, s := range servers {
		alone[i] = s.isolated(t, rdb, "alone", 20)
	}
	// What the servers do on their own over a second (the baseline the
	// counts above include).
	for _, s := range servers {
		pg0, r0, cpu0 := s.pg.sends.Load(), s.redis.sends.Load(), procCPU(s.cmd.Process.Pid)
		time.Sleep(time.Second)
		idle = append(idle, createCost{n: 1, elapsed: time.Second, cpu: procCPU(s.cmd.Process.Pid) - cpu0,
			pgSends: s.pg.sends.Load() - pg0, rdbSends: s.redis.sends.Load() - r0})
	}
	shape := "an empty database"
	if seeded {
		shape = "a configuration of 100 providers (10 models each) and 100 bindings (a third regex) per route group, 20 groups, 10,000 keys"
	}
	for i, s := range servers {
		t.Logf("%s binary, one create at a time (each its own publisher step): %.1f PostgreSQL and %.1f Redis round trips, %.2f ms CPU per create",
			s.name, float64(alone[i].pgSends)/float64(alone[i].n), float64(alone[i].rdbSends)/float64(alone[i].n),
			float64(alone[i].cpu.Microseconds())/1000/float64(alone[i].n))
		t.Logf("%s binary: %s; idle over 1 s: %.0f ms CPU, %d PostgreSQL and %d Redis round trips",
			s.name, costs[i], float64(idle[i].cpu.Microseconds())/1000, idle[i].pgSends, idle[i].rdbSends)
	}
	ours := costs[0]
	sec := "Provider create cost (issue 14)"
	explain(sec, "Sequential provider creates through the real binary's API on a configuration seeded by SQL in the "+
		"shape of issue 12's at scale (per route group: 100 providers of 10 models, 100 bindings, a third of them "+
		"regex selectors), each until its delta is in Redis. CPU is the server process's (/proc/<pid>/stat); round "+
		"trips are counted by loopback TCP proxies in front of PostgreSQL and Redis. EZ_BENCH_BEFORE_BIN measures an "+
		"earlier binary in the same rounds.")
	record(sec, row{fmt.Sprintf("one provider create on the publishing replica (real binary), request to delta in Redis, %d sequential creates on %s: server CPU (/proc/<pid>/stat), round trips counted by a loopback proxy",
		ours.n, shape), ours.String(), "—", "—", "CPU ≤ 1 ms"})
	record(sec, row{"round trips of one provider create with a publisher step of its own (each create waits until it is in Redis)",
		fmt.Sprintf("%.1f PostgreSQL, %.1f Redis", float64(alone[0].pgSends)/float64(alone[0].n), float64(alone[0].rdbSends)/float64(alone[0].n)),
		"—", "—", "—"})
}

// round makes n sequential provider creates on s and waits until the last
// is in Redis; it returns what they cost.
func (s *createServer) round(t *testing.T, rdb *redis.Client, tag string, n int) createCost {
	return s.creates(t, rdb, tag, n, false)
}

// isolated makes n provider creates on s, each waiting until it is in
// Redis: each create has a publisher step of its own.
func (s *createServer) isolated(t *testing.T, rdb *redis.Client, tag string, n int) createCost {
	return s.creates(t, rdb, tag, n, true)
}

func (s *createServer) creates(t *testing.T, rdb *redis.Client, tag string, n int, wait bool) createCost {
	t.Helper()
	ctx := context.Background()
	group := "bg-1"
	pg0, r0, cpu0 := s.pg.sends.Load(), s.redis.sends.Load(), procCPU(s.cmd.Process.Pid)
	start := time.Now()
	var last int64
	for i := range n {
		key := fmt.Sprintf("sk-create-%s-%d-0123456789abcdef", tag, i)
		r, err := s.client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: fmt.Sprintf("cc-%s-%d", tag, i),
			Type: apiclient.ProviderTypeOpenai, ApiKey: &key, Group: &group, Models: []string{"um-1", "um-2"}}, s.as)
		require.NoError(t, err)
		must(t, r.StatusCode(), r.Body, 201)
		last = r.JSON201.Id
		if wait {
			visible(ctx, rdb, s.prefix+snapshot.KeyProviders, fmt.Sprint(last), `"id"`)
			time.Sleep(20 * time.Millisecond) // the step's acknowledgement
		}
	}
	elapsed := time.Since(start)
	visible(ctx, rdb, s.prefix+snapshot.KeyProviders, fmt.Sprint(last), `"id"`)
	// The publisher acknowledges after Redis confirmed: let it finish the
	// step that made the create visible before reading the counters.
	time.Sleep(50 * time.Millisecond)
	return createCost{n: n, elapsed: elapsed, cpu: procCPU(s.cmd.Process.Pid) - cpu0,
		pgSends: s.pg.sends.Load() - pg0, rdbSends: s.redis.sends.Load() - r0}
}
