package bench_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/oapi-codegen/nullable"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// scaleConfig is the size of the configuration TestSnapshotAtScale loads.
type scaleConfig struct {
	name                                       string
	keys, providers, models, bindings, masters int
}

// benchConfig is EZ_BENCH_SCALE=big (issue 12's configuration: 1,000,000
// keys, 10,000 providers of 10 models each, 10,000 models and bindings,
// 1,000 masters) or the default, small enough for make bench's timeout;
// EZ_BENCH_SCALE_KEYS, _PROVIDERS, _MODELS, _BINDINGS, _MASTERS override.
func benchConfig() scaleConfig {
	c := scaleConfig{"default", 100_000, 2_000, 2_000, 2_000, 200}
	if os.Getenv("EZ_BENCH_SCALE") == "big" {
		c = scaleConfig{"big", 1_000_000, 10_000, 10_000, 10_000, 1_000}
	}
	c.keys = benchScale("SCALE_KEYS", c.keys)
	c.providers = benchScale("SCALE_PROVIDERS", c.providers)
	c.models = benchScale("SCALE_MODELS", c.models)
	c.bindings = min(benchScale("SCALE_BINDINGS", c.bindings), c.models)
	c.masters = benchScale("SCALE_MASTERS", c.masters)
	return c
}

// seedScale writes the configuration straight into PostgreSQL, as the
// application would have: providers in route groups of 100 with 10
// upstream models each and their upstream keys encrypted under the
// server's key (row id as additional data), models with bindings whose
// candidates mix exact, normalize_exact and regex selectors, masters and
// keys spread over them.
func seedScale(t *testing.T, db *sqlx.DB, c scaleConfig) {
	t.Helper()
	groups := max(1, c.providers/100)
	stmts := []string{
		fmt.Sprintf(`INSERT INTO route_groups (name) SELECT 'bg-' || g FROM generate_series(0, %d) g`, groups-1),
		fmt.Sprintf(`INSERT INTO providers (name, type, base_url, api_key_mask, group_id, models, weight)
SELECT 'sp-' || g, 'openai', 'https://api.example.com/v1', 'sk-s...0000', rg.id,
       ARRAY(SELECT 'um-' || ((g * 10 + j) %% %d) FROM generate_series(0, 9) j), 1
FROM generate_series(1, %d) g JOIN route_groups rg ON rg.name = 'bg-' || (g %% %d)`, max(10, c.models), c.providers, groups),
		fmt.Sprintf(`INSERT INTO models (namespace, name, kind) SELECT 'bench', 'um-' || g, 'chat' FROM generate_series(0, %d) g`, c.models-1),
		fmt.Sprintf(`INSERT INTO bindings (model_id, candidates)
SELECT m.id, jsonb_build_array(jsonb_build_object('route_group', 'bg-' || (n %% %d), 'weight', 1,
       'selector_type', (ARRAY['exact', 'normalize_exact', 'regex'])[1 + n %% 3],
       'selector_value', CASE n %% 3 WHEN 2 THEN '^um-' || n || '$' ELSE m.name END))
FROM (SELECT id, name, row_number() OVER (ORDER BY id) - 1 AS n FROM models WHERE namespace = 'bench') m WHERE m.n < %d`, groups, c.bindings),
		fmt.Sprintf(`INSERT INTO masters (name, token_hash, token_prefix) SELECT 'sm-' || g, md5('m' || g) || md5('mm' || g), 'mk-s'
FROM generate_series(1, %d) g`, c.masters),
		fmt.Sprintf(`INSERT INTO keys (master_id, name, prefix, token_hash, group_name, issued_by)
SELECT mm.lo + (g %% %d), 'sk' || g, 'sk-s', md5('k' || g) || md5('kk' || g), 'bg-' || (g %% %d), 'master'
FROM generate_series(1, %d) g, (SELECT min(id) AS lo FROM masters WHERE name LIKE 'sm-%%') mm`, c.masters, groups, c.keys),
	}
	for _, q := range stmts {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	cfg, err := app.LoadConfig(testenv.Environ())
	require.NoError(t, err)
	cipher, err := app.ProvideSecretCipher(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	var ids []int64
	require.NoError(t, db.Select(&ids, `SELECT id FROM providers WHERE name LIKE 'sp-%' ORDER BY id`))
	cts := make([][]byte, len(ids))
	for i, id := range ids {
		cts[i], err = cipher.Encrypt(fmt.Appendf(nil, "sk-scale-%d-0123456789abcdef", id), fmt.Appendf(nil, "provider:%d", id))
		require.NoError(t, err)
	}
	_, err = db.Exec(`UPDATE providers p SET api_key_ciphertext = c.ct FROM unnest($1::bigint[], $2::bytea[]) c(id, ct) WHERE p.id = c.id`,
		pq.Array(ids), pq.ByteaArray(cts))
	require.NoError(t, err)
	_, err = db.Exec(`ANALYZE`)
	require.NoError(t, err)
}

// ownBenchDatabase creates an empty database for the test and returns its DSN.
func ownBenchDatabase(t *testing.T, name string) string {
	t.Helper()
	admin, err := sqlx.Open("postgres", testenv.PGAdminDSN())
	require.NoError(t, err)
	name = fmt.Sprintf("ezapi_t_writers_%s_%d", name, time.Now().UnixNano())
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		_ = admin.Close()
	})
	return testenv.PGAdminDSN() + " dbname=" + name
}

// visible polls Redis until field of key contains want; it returns how long
// that took (capped at 10 s).
func visible(ctx context.Context, rdb *redis.Client, key, field, want string) time.Duration {
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		if v, err := rdb.HGet(ctx, key, field).Result(); err == nil && strings.Contains(v, want) {
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	return time.Since(start)
}

// sectionProbe makes one change of a section through a replica's API and
// says which Redis entry shows it and how.
type sectionProbe struct {
	section string
	change  func(c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, i int) (key, field, want string)
}

func must(t *testing.T, status int, body []byte, want int) {
	t.Helper()
	require.Equal(t, want, status, string(body))
}

// scaleProbes creates one resource of every section and returns a probe of each.
func scaleProbes(t *testing.T, c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn) []sectionProbe {
	ctx := context.Background()
	group := "scale-probe"
	key := "sk-scale-probe-0123456789abcdef"
	p, err := c.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: "scale-probe", Type: apiclient.ProviderTypeOpenai,
		ApiKey: &key, Group: &group, Models: []string{"probe-up"}}, as)
	require.NoError(t, err)
	must(t, p.StatusCode(), p.Body, http.StatusCreated)
	m, err := c.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "scale-probe"}, as)
	require.NoError(t, err)
	must(t, m.StatusCode(), m.Body, http.StatusCreated)
	b, err := c.CreateBindingWithResponse(ctx, apiclient.CreateBindingJSONRequestBody{PublicModel: "scale-probe",
		Candidates: apiclient.BindingCandidates{{RouteGroup: &group, SelectorType: apiclient.SelectorTypeExact, SelectorValue: "probe-up"}}}, as)
	require.NoError(t, err)
	must(t, b.StatusCode(), b.Body, http.StatusCreated)
	ms, err := c.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "scale-probe"}, as)
	require.NoError(t, err)
	must(t, ms.StatusCode(), ms.Body, http.StatusCreated)
	k, err := c.IssueMasterKeyWithResponse(ctx, ms.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "scale-probe"}, as)
	require.NoError(t, err)
	must(t, k.StatusCode(), k.Body, http.StatusCreated)
	sum := sha256.Sum256([]byte(k.JSON201.Token))
	tokenHash := hex.EncodeToString(sum[:])
	pid, mid, bid, msid, kid := p.JSON201.Id, m.JSON201.Id, b.JSON201.Id, ms.JSON201.Master.Id, k.JSON201.Key.Id
	return []sectionProbe{
		{"provider", func(c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, i int) (string, string, string) {
			w := int32(1000 + i)
			r, err := c.UpdateProviderWithResponse(ctx, pid, apiclient.UpdateProviderJSONRequestBody{Weight: &w}, as)
			require.NoError(t, err)
			must(t, r.StatusCode(), r.Body, http.StatusOK)
			return snapshot.KeyProviders, fmt.Sprint(pid), fmt.Sprintf(`"weight":%d,`, w)
		}},
		{"key", func(c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, i int) (string, string, string) {
			r, err := c.UpdateKeyWithResponse(ctx, kid, apiclient.UpdateKeyJSONRequestBody{RpmLimit: nullable.NewNullableWithValue(int32(1000 + i))}, as)
			require.NoError(t, err)
			must(t, r.StatusCode(), r.Body, http.StatusOK)
			return snapshot.KeyAuthKeys, tokenHash, fmt.Sprintf(`"rpm_limit":%d,`, 1000+i)
		}},
		{"master", func(c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, i int) (string, string, string) {
			rpm := int32(1000 + i)
			r, err := c.UpdateMasterWithResponse(ctx, msid, apiclient.UpdateMasterJSONRequestBody{DefaultRpm: &rpm}, as)
			require.NoError(t, err)
			must(t, r.StatusCode(), r.Body, http.StatusOK)
			return snapshot.KeyMasters, fmt.Sprint(msid), fmt.Sprintf(`"default_rpm":%d,`, rpm)
		}},
		{"model", func(c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, i int) (string, string, string) {
			price := float64(1000 + i)
			r, err := c.UpdateModelWithResponse(ctx, mid, apiclient.UpdateModelJSONRequestBody{InputPricePerMtok: &price}, as)
			require.NoError(t, err)
			must(t, r.StatusCode(), r.Body, http.StatusOK)
			return snapshot.KeyModels, "default.scale-probe", fmt.Sprintf(`"input_price_per_mtok":%d,`, 1000+i)
		}},
		{"binding", func(c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, i int) (string, string, string) {
			w := int32(1000 + i)
			cands := apiclient.BindingCandidates{{RouteGroup: &group, SelectorType: apiclient.SelectorTypeExact, SelectorValue: "probe-up", Weight: &w}}
			r, err := c.UpdateBindingWithResponse(ctx, bid, apiclient.UpdateBindingJSONRequestBody{Candidates: &cands}, as)
			require.NoError(t, err)
			must(t, r.StatusCode(), r.Body, http.StatusOK)
			return snapshot.KeyBindings, "default.scale-probe", fmt.Sprintf(`"weight":%d,`, w)
		}},
		{"feature", func(c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, i int) (string, string, string) {
			v := fmt.Sprintf("v%d", 1000+i)
			r, err := c.PutFeaturesWithBodyWithResponse(ctx, "application/json", strings.NewReader(fmt.Sprintf(`{"scale_probe":%q}`, v)), as)
			require.NoError(t, err)
			must(t, r.StatusCode(), r.Body, http.StatusOK)
			return snapshot.KeyFeatures, "scale_probe", v
		}},
	}
}

// createRun times n sequential provider creates through a server and the
// CPU its process used until the last one was visible in Redis.
func createRun(t *testing.T, c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, rdb *redis.Client, prefix string,
	pid int, tag string, n int) (time.Duration, time.Duration) {
	t.Helper()
	ctx := context.Background()
	group := "bg-1"
	cpu0 := procCPU(pid)
	start := time.Now()
	var last int64
	for i := range n {
		key := fmt.Sprintf("sk-create-%s-%d-0123456789abcdef", tag, i)
		r, err := c.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: fmt.Sprintf("cr-%s-%d", tag, i),
			Type: apiclient.ProviderTypeOpenai, ApiKey: &key, Group: &group, Models: []string{"um-1", "um-2"}}, as)
		require.NoError(t, err)
		must(t, r.StatusCode(), r.Body, http.StatusCreated)
		last = r.JSON201.Id
	}
	elapsed := time.Since(start)
	visible(ctx, rdb, prefix+snapshot.KeyProviders, fmt.Sprint(last), `"id"`)
	return elapsed, procCPU(pid) - cpu0
}

// TestSnapshotAtScale: issue 12's measurements with the real binary at a
// large configuration (benchConfig): change → visible in Redis per section,
// made on the publishing replica and on a second one, under a background
// load of 100 mutations/s; server CPU per provider create and the
// sequential create rate against an empty database (interleaved rounds);
// 16 concurrent writers against 1.
func TestSnapshotAtScale(t *testing.T) {
	testenv.Reset(t) // its own data set: no other benchmark's rows, ids or snapshot
	cfg := benchConfig()
	ctx := context.Background()
	bin := buildBinary(t, t.TempDir()+"/ezapi")
	// EZ_BENCH_SERVER_ENV adds settings, e.g. EZ_SYNC__RECONCILE_INTERVAL=1h.
	env := append(testenv.Environ("EZ_LOG_LEVEL=info"), strings.Fields(os.Getenv("EZ_BENCH_SERVER_ENV"))...)
	db, err := sqlx.Open("postgres", testenv.DSN())
	require.NoError(t, err)
	defer db.Close()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DB: testenv.RedisDB()})
	defer rdb.Close()

	// Schema, then the configuration, then the publishing replica, whose
	// start-up publishes it all (a full build, staged and swapped in): no
	// HTTP request has to outlive the server's write timeout.
	migrate := exec.Command(bin, "migrate", "up")
	migrate.Env = env
	out, err := migrate.CombinedOutput()
	require.NoError(t, err, string(out))
	seedStart := time.Now()
	seedScale(t, db, cfg)
	seeded := time.Since(seedStart)
	resyncStart := time.Now()
	acmd, aaddr := runBinary(t, bin, env) // the publishing replica: started first, alone
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		if n, err := rdb.HGet(ctx, snapshot.KeySnapshot, "count:"+snapshot.KeyAuthKeys).Int(); err == nil && n >= cfg.keys {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	resync := time.Since(resyncStart)
	counts, err := rdb.HGetAll(ctx, snapshot.KeySnapshot).Result()
	require.NoError(t, err)
	t.Logf("%s configuration seeded in %s, published at start-up after %s: %v", cfg.name, seeded, resync, counts)
	ac, aas := adminClient(t, db, aaddr, 32)

	bcmd, baddr := runBinary(t, bin, env) // a second replica of the same database and Redis
	bc, bas := adminClient(t, db, baddr, 32)
	// An empty database with its own server and key prefix: the baseline.
	emptyPrefix := "scale-empty:"
	ecmd, eaddr := runBinary(t, bin, append(testenv.Environ("EZ_LOG_LEVEL=info"), "EZ_PG_DSN="+ownBenchDatabase(t, "empty"),
		"EZ_REDIS__KEY_PREFIX="+emptyPrefix))
	edb, err := sqlx.Open("postgres", ownDSN(ecmd.Env))
	require.NoError(t, err)
	defer edb.Close()
	ec, eas := adminClient(t, edb, eaddr, 4)
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, emptyPrefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})

	// Sequential provider creates, empty vs loaded, interleaved rounds; the
	// CPU is the serving (and publishing) process's until the last create
	// is visible in Redis.
	n := benchScale("SCALE_CREATES", 100)
	rounds := 3
	var eDur, eCPU, bDur, bCPU time.Duration
	for r := range rounds + 1 {
		ed, ecpu := createRun(t, ec, eas, rdb, emptyPrefix, ecmd.Process.Pid, fmt.Sprintf("e%d", r), n)
		bd, bcpu := createRun(t, ac, aas, rdb, "", acmd.Process.Pid, fmt.Sprintf("b%d", r), n)
		if r == 0 {
			continue // warm-up
		}
		eDur, eCPU, bDur, bCPU = eDur+ed, eCPU+ecpu, bDur+bd, bCPU+bcpu
	}
	total := float64(n * rounds)
	eRate, bRate := total/eDur.Seconds(), total/bDur.Seconds()
	cpuPer := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000/total) }

	// 16 concurrent writers against 1, at this scale.
	var one, many writerLoad
	for r := range 2 {
		l1 := runWriters(t, db, ac, aas, []int{acmd.Process.Pid, bcmd.Process.Pid}, fmt.Sprintf("s1-%d", r), msOf(t, ac, aas, r), 1, 5*time.Second)
		l16 := runWriters(t, db, ac, aas, []int{acmd.Process.Pid, bcmd.Process.Pid}, fmt.Sprintf("s16-%d", r), msOf(t, ac, aas, r), 16, 5*time.Second)
		one.ops, one.elapsed = one.ops+l1.ops, one.elapsed+l1.elapsed
		many.ops, many.elapsed = many.ops+l16.ops, many.elapsed+l16.elapsed
		many.waiting += l16.waiting / 2
	}

	// Change → visible per section, on each replica, under 100 mutations/s
	// of background load (model price updates, alternating replicas).
	probes := scaleProbes(t, ac, aas)
	bg, err := ac.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "scale-background"}, aas)
	require.NoError(t, err)
	must(t, bg.StatusCode(), bg.Body, http.StatusCreated)
	stop := make(chan struct{})
	var bgWG sync.WaitGroup
	var bgDone, bgFail, bgSkipped int
	bgWG.Go(func() {
		// At most 8 in flight: a machine that cannot keep up skips ticks
		// (counted) instead of piling up requests.
		tick := time.NewTicker(time.Second / time.Duration(benchScale("SCALE_BG_RATE", 100)))
		defer tick.Stop()
		var inflight sync.WaitGroup
		defer inflight.Wait()
		var mu sync.Mutex
		slots := make(chan struct{}, 8)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			c, as := ac, aas
			if i%2 == 1 {
				c, as = bc, bas
			}
			select {
			case slots <- struct{}{}:
			default:
				mu.Lock()
				bgSkipped++
				mu.Unlock()
				continue
			}
			inflight.Go(func() {
				defer func() { <-slots }()
				price := float64(i)
				r, err := c.UpdateModelWithResponse(ctx, bg.JSON201.Id, apiclient.UpdateModelJSONRequestBody{OutputPricePerMtok: &price}, as)
				mu.Lock()
				defer mu.Unlock()
				if err != nil || r.StatusCode() != http.StatusOK {
					bgFail++
					return
				}
				bgDone++
			})
		}
	})
	per := benchScale("SCALE_PROBES", 30)
	type key struct{ replica, section string }
	lat := map[key][]time.Duration{}
	bgStart := time.Now()
	for i := range per {
		for j, rep := range []struct {
			name string
			c    *apiclient.ClientWithResponses
			as   apiclient.RequestEditorFn
		}{{"publishing", ac, aas}, {"second", bc, bas}} {
			for _, p := range probes {
				k, f, want := p.change(rep.c, rep.as, i*2+j)
				lat[key{rep.name, p.section}] = append(lat[key{rep.name, p.section}], visible(ctx, rdb, k, f, want))
			}
		}
	}
	close(stop)
	bgWG.Wait()
	bgRate := float64(bgDone) / time.Since(bgStart).Seconds()

	var rss int64
	for _, pid := range []int{acmd.Process.Pid, bcmd.Process.Pid} {
		rss = max(rss, rssKB(pid, "VmHWM"))
	}

	sec := fmt.Sprintf("Snapshot at scale (issue 12): %s configuration", cfg.name)
	explain(sec, "The configuration is seeded straight into PostgreSQL, then two replicas of the real binary share "+
		"the database and Redis; the first publishes everything at start-up (streaming build, staging keys, one swap). "+
		"Creates: sequential provider creates through the publishing replica until each is visible in Redis, against a "+
		"third binary over an empty database (own key prefix), interleaved rounds; CPU is the serving process's "+
		"/proc/<pid>/stat. Change → visible: one change per section made through either replica while a background "+
		"load of model price updates runs, timed until Redis shows it (polled every 0.2 ms). `EZ_BENCH_SCALE=big` is "+
		"issue 12's configuration (1,000,000 keys; about 40 minutes, not part of the default run).")
	conf := fmt.Sprintf("%d keys, %d providers (10 models each), %d models, %d bindings (exact, normalize_exact, regex), %d masters",
		cfg.keys, cfg.providers, cfg.models, cfg.bindings, cfg.masters)
	record(sec, row{"configuration (seeded by SQL, upstream keys encrypted as the server does; published by the first replica's start-up: full build, stage, swap)",
		conf, fmt.Sprintf("seeded in %s, start → published %s", seeded.Round(time.Millisecond), resync.Round(time.Millisecond)), "—", "—"})
	for _, rep := range []string{"publishing", "second"} {
		for _, p := range probes {
			l := lat[key{rep, p.section}]
			record(sec, row{fmt.Sprintf("change → visible in Redis, %s, made on the %s replica (%d changes, background load %.0f mutations/s achieved of %d/s asked)", p.section, rep, len(l), bgRate, benchScale("SCALE_BG_RATE", 100)),
				fmt.Sprintf("p50 %s, p90 %s, p99 %s", ms(percentile(l, 0.5)), ms(percentile(l, 0.9)), ms(percentile(l, 0.99))), "—", "—", "p99 ≤ 50 ms"})
		}
	}
	t.Logf("background: %d mutations done, %d failed, %d ticks skipped (8 in flight)", bgDone, bgFail, bgSkipped)
	record(sec, row{fmt.Sprintf("server CPU per provider create (the publishing replica's /proc/<pid>/stat over %d sequential creates, until published)", n*rounds),
		cpuPer(bCPU), cpuPer(eCPU) + " on an empty database", fmt.Sprintf("%.2f", bCPU.Seconds()/eCPU.Seconds()), "≤ 1 ms"})
	record(sec, row{"sequential provider creates/s", fmt.Sprintf("%.0f/s", bRate), fmt.Sprintf("%.0f/s on an empty database (interleaved rounds)", eRate),
		fmt.Sprintf("%.2f", bRate/eRate), "≥ 0.8"})
	record(sec, row{"16 concurrent writers (provider create, key create, PATCH), mutations/s",
		fmt.Sprintf("%.0f/s (mean %.2f backends waiting on an advisory lock)", float64(many.ops)/many.elapsed.Seconds(), many.waiting),
		fmt.Sprintf("%.0f/s with 1 writer", float64(one.ops)/one.elapsed.Seconds()),
		fmt.Sprintf("%.2f", (float64(many.ops)/many.elapsed.Seconds())/(float64(one.ops)/one.elapsed.Seconds())), "—"})
	record(sec, row{"peak RSS of a replica (VmHWM, the larger of the two)", fmt.Sprintf("%.0f MB", float64(rss)/1024), "—", "—", "≤ 200 MB"})
}

// ownDSN is the EZ_PG_DSN of an environment.
func ownDSN(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "EZ_PG_DSN="); ok {
			return v
		}
	}
	return ""
}

// msOf creates a master for a writer run and returns its id.
func msOf(t *testing.T, c *apiclient.ClientWithResponses, as apiclient.RequestEditorFn, r int) int64 {
	m, err := c.CreateMasterWithResponse(context.Background(), apiclient.CreateMasterJSONRequestBody{Name: fmt.Sprintf("scale-writers-%d-%d", r, time.Now().UnixNano())}, as)
	require.NoError(t, err)
	must(t, m.StatusCode(), m.Body, http.StatusCreated)
	return m.JSON201.Master.Id
}
