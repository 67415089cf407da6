package snapshot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/providers"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// propertyAPI sends raw JSON mutations; random ones may be refused (a model
// with a binding cannot be deleted), which must change nothing.
type propertyAPI struct {
	t     *testing.T
	env   *testenv.Env
	token string
	// applied counts the mutations the API accepted, by method and path shape.
	applied map[string]int
}

func (a propertyAPI) call(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(a.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.env.BaseURL+path, rd)
	require.NoError(a.t, err)
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.env.HTTP.Do(req)
	require.NoError(a.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(a.t, err)
	require.Less(a.t, res.StatusCode, 500, "%s %s: %s", method, path, raw)
	if res.StatusCode < 300 {
		a.applied[method]++
	} else {
		a.t.Logf("%s %s refused: %d %s", method, path, res.StatusCode, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

func idOf(m map[string]any) int64 {
	if m == nil {
		return 0
	}
	if k, ok := m["key"].(map[string]any); ok { // issue key: {key, token}
		m = k
	}
	if k, ok := m["master"].(map[string]any); ok { // create master: {master, token}
		m = k
	}
	f, _ := m["id"].(float64)
	return int64(f)
}

func pick(rng *rand.Rand, ids []int64) (int64, bool) {
	if len(ids) == 0 {
		return 0, false
	}
	return ids[rng.IntN(len(ids))], true
}

func drop(ids []int64, id int64) []int64 {
	out := ids[:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// TestChangeDrivenDeltasEqualAFromScratchBuild applies random mutation
// sequences through the API and, after every step, compares what the
// change-driven publisher left in Redis (every data hash, the publisher's
// field indexes, the per-section and total checksums, counts and the models
// checksum) with a from-scratch build of a full database load.
// Not parallel: the package's Redis DB holds one snapshot.
func TestChangeDrivenDeltasEqualAFromScratchBuild(t *testing.T) {
	env := testenv.Start(t, func(c *app.Config) {
		fastSync(c)
		c.Sync.ReconcileInterval = time.Hour // a repair must not hide a wrong delta
	})
	ctx := context.Background()
	api := propertyAPI{t: t, env: env, token: env.AdminToken(t), applied: map[string]int{}}
	rdb := env.Redis(t)
	source := postgres.NewSnapshotSource(env.DB)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 12))
	groups := []string{"pg-a", "pg-b", "pg-c"}
	upstream := []string{"gpt-4o", "gpt-4o-mini", "claude-3", "llama-3"}
	var provs, models, binds, masters, keys []int64
	modelName := map[int64]string{}

	steps, deadline := 120, time.Now().Add(90*time.Second)
	for step := 0; step < steps && time.Now().Before(deadline); step++ {
		what := ""
		switch op := rng.IntN(16); op {
		case 0, 1:
			what = "create provider"
			body := map[string]any{"name": fmt.Sprintf("pp-%d-%d", step, rng.IntN(1000)), "type": "openai",
				"group": groups[rng.IntN(len(groups))], "models": []string{upstream[rng.IntN(2)], upstream[2+rng.IntN(2)]}}
			if rng.IntN(2) == 0 {
				body["api_key"] = fmt.Sprintf("sk-prop-%d-0123456789", step)
			}
			if st, out := api.call(http.MethodPost, "/providers", body); st == http.StatusCreated {
				provs = append(provs, idOf(out))
			}
		case 2:
			what = "update provider"
			if id, ok := pick(rng, provs); ok {
				body := map[string]any{}
				switch rng.IntN(4) {
				case 0:
					body["group"] = groups[rng.IntN(len(groups))]
				case 1:
					body["status"] = []string{"active", "disabled"}[rng.IntN(2)]
				case 2:
					body["models"] = []string{upstream[rng.IntN(4)]}
				default:
					body["weight"] = rng.IntN(10) + 1
				}
				api.call(http.MethodPatch, fmt.Sprint("/providers/", id), body)
			}
		case 3:
			what = "delete provider"
			if id, ok := pick(rng, provs); ok {
				if st, _ := api.call(http.MethodDelete, fmt.Sprint("/providers/", id), nil); st == http.StatusNoContent {
					provs = drop(provs, id)
				}
			}
		case 4:
			what = "create model"
			name := fmt.Sprintf("pm-%d", step)
			if st, out := api.call(http.MethodPost, "/models", map[string]any{"name": name}); st == http.StatusCreated {
				models = append(models, idOf(out))
				modelName[idOf(out)] = name
			}
		case 5:
			what = "update or delete model"
			if id, ok := pick(rng, models); ok {
				if rng.IntN(2) == 0 {
					api.call(http.MethodPatch, fmt.Sprint("/models/", id), map[string]any{"input_price_per_mtok": rng.IntN(9)})
				} else if st, _ := api.call(http.MethodDelete, fmt.Sprint("/models/", id), nil); st == http.StatusNoContent {
					models = drop(models, id)
				}
			}
		case 6, 7:
			what = "create binding"
			if id, ok := pick(rng, models); ok {
				cands := []map[string]any{{"route_group": groups[rng.IntN(3)], "selector_type": "exact", "selector_value": upstream[rng.IntN(4)]}}
				if rng.IntN(2) == 0 {
					cands = append(cands, map[string]any{"route_group": groups[rng.IntN(3)], "selector_type": "regex", "selector_value": "^gpt"})
				}
				if st, out := api.call(http.MethodPost, "/bindings", map[string]any{"public_model": modelName[id], "candidates": cands}); st == http.StatusCreated {
					binds = append(binds, idOf(out))
				}
			}
		case 8:
			what = "update or delete binding"
			if id, ok := pick(rng, binds); ok {
				if rng.IntN(2) == 0 {
					api.call(http.MethodPatch, fmt.Sprint("/bindings/", id), map[string]any{"candidates": []map[string]any{
						{"route_group": groups[rng.IntN(3)], "selector_type": "exact", "selector_value": upstream[rng.IntN(4)]}}})
				} else if st, _ := api.call(http.MethodDelete, fmt.Sprint("/bindings/", id), nil); st == http.StatusNoContent {
					binds = drop(binds, id)
				}
			}
		case 9:
			what = "create master"
			if st, out := api.call(http.MethodPost, "/admin/masters", map[string]any{"name": fmt.Sprintf("pmaster-%d", step)}); st == http.StatusCreated {
				masters = append(masters, idOf(out))
			}
		case 10:
			what = "update master"
			if id, ok := pick(rng, masters); ok {
				body := map[string]any{}
				switch rng.IntN(3) {
				case 0:
					body["status"] = []string{"active", "suspended"}[rng.IntN(2)]
				case 1:
					body["default_rpm"] = rng.IntN(100) + 1
				default:
					body["namespaces"] = []string{"default", fmt.Sprint("ns", rng.IntN(3))}
				}
				api.call(http.MethodPatch, fmt.Sprint("/admin/masters/", id), body)
			}
		case 11:
			what = "delete master"
			if id, ok := pick(rng, masters); ok {
				if st, _ := api.call(http.MethodDelete, fmt.Sprint("/admin/masters/", id, "?cascade=true"), nil); st == http.StatusNoContent {
					masters = drop(masters, id)
				}
			}
		case 12, 13:
			what = "issue key"
			if id, ok := pick(rng, masters); ok {
				if st, out := api.call(http.MethodPost, fmt.Sprint("/admin/masters/", id, "/keys"), map[string]any{"name": fmt.Sprint("pk-", step)}); st == http.StatusCreated {
					keys = append(keys, idOf(out))
				}
			}
		case 14:
			what = "update, rotate or revoke key"
			if id, ok := pick(rng, keys); ok {
				switch rng.IntN(3) {
				case 0:
					api.call(http.MethodPatch, fmt.Sprint("/keys/", id), map[string]any{"rpm_limit": rng.IntN(50) + 1})
				case 1:
					api.call(http.MethodPost, fmt.Sprint("/keys/", id, "/rotate"), map[string]any{"grace_seconds": 3600})
				default:
					api.call(http.MethodDelete, fmt.Sprint("/keys/", id), nil)
				}
			}
		default:
			what = "features"
			name := fmt.Sprint("pflag_", rng.IntN(4))
			var v any = fmt.Sprint(rng.IntN(5))
			if rng.IntN(3) == 0 {
				v = nil
			}
			api.call(http.MethodPut, "/admin/features", map[string]any{name: v})
		}

		// Wait until the publisher caught up with the database, then compare.
		dbVersion, err := source.CurrentVersion(ctx)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			v, err := rdb.HGet(ctx, snapshot.KeySnapshot, "version").Int64()
			return err == nil && v >= dbVersion
		}, 10*time.Second, 5*time.Millisecond, "step %d (%s): published", step, what)

		requireRedisEqualsFullBuild(t, env, rdb, fmt.Sprintf("step %d (%s)", step, what))
	}
	t.Logf("accepted mutations: %v; final counts %v", api.applied, len(provs)+len(models)+len(binds)+len(masters)+len(keys))
	// The sequence really exercised every kind of write.
	for _, m := range []string{http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut} {
		require.Positive(t, api.applied[m], "no %s was accepted", m)
	}
}

// TestRotatingTwiceWithinGraceDeletesTheOldestToken: the delta of a key
// replaces every field the key published before (read from the publisher's
// index), so after two rotations within the grace period only the newest
// token and its predecessor are accepted, and revoking removes both.
// Not parallel: the package's Redis DB holds one snapshot.
func TestRotatingTwiceWithinGraceDeletesTheOldestToken(t *testing.T) {
	env := testenv.Start(t, fastSync)
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	rdb := env.Redis(t)
	redisMatchesDatabase(t, env, 5*time.Second)
	others, err := rdb.HLen(ctx, snapshot.KeyAuthKeys).Result() // other tests' keys
	require.NoError(t, err)
	master, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "rotating-tenant"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, master.StatusCode(), string(master.Body))
	key, err := env.Client.IssueMasterKeyWithResponse(ctx, master.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "rotating"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, key.StatusCode(), string(key.Body))
	tokens := []string{key.JSON201.Token}
	grace := int32(3600)
	for range 2 {
		res, err := env.Client.RotateKeyWithResponse(ctx, key.JSON201.Key.Id, apiclient.RotateKeyJSONRequestBody{GraceSeconds: &grace}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		tokens = append(tokens, res.JSON200.Token)
	}
	published := func(tok string) bool {
		ok, err := rdb.HExists(ctx, snapshot.KeyAuthKeys, sha256hex(tok)).Result()
		require.NoError(t, err)
		return ok
	}
	require.Eventually(t, func() bool {
		return published(tokens[2]) && published(tokens[1]) && !published(tokens[0])
	}, 5*time.Second, 10*time.Millisecond, "newest and previous token published, the oldest deleted")
	n, err := rdb.HLen(ctx, snapshot.KeyAuthKeys).Result()
	require.NoError(t, err)
	require.Equal(t, others+2, n)

	res, err := env.Client.RevokeKeyWithResponse(ctx, key.JSON201.Key.Id, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, res.StatusCode())
	require.Eventually(t, func() bool {
		n, err := rdb.HLen(ctx, snapshot.KeyAuthKeys).Result()
		return err == nil && n == others
	}, 5*time.Second, 10*time.Millisecond, "a revoked key's grace token goes too")
	redisMatchesDatabase(t, env, 5*time.Second)
}

// requireRedisEqualsFullBuild compares everything the publisher keeps in
// Redis (data hashes, its field indexes, per-section and total checksums,
// counts, the models checksum) with a from-scratch build of a full load.
func requireRedisEqualsFullBuild(t *testing.T, env *testenv.Env, rdb *redis.Client, label string) {
	t.Helper()
	ctx := context.Background()
	cipher, err := app.ProvideSecretCipher(env.Config, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	data, err := postgres.NewSnapshotSource(env.DB).Load(ctx)
	require.NoError(t, err)
	want, err := snapshot.Build(data, providers.KeyDecrypter(cipher), time.Now())
	require.NoError(t, err)
	for _, k := range snapshot.DataKeys {
		have, err := rdb.HGetAll(ctx, k).Result()
		require.NoError(t, err)
		require.Equal(t, want.Sections[k], have, "%s: %s", label, k)
	}
	for _, k := range snapshot.IndexKeys {
		have, err := rdb.HGetAll(ctx, k).Result()
		require.NoError(t, err)
		require.Equal(t, want.Index[k], have, "%s: %s", label, k)
	}
	meta, err := rdb.HGetAll(ctx, snapshot.KeySnapshot).Result()
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(data.Version), meta["version"], label)
	require.Equal(t, want.Checksum(), meta["checksum"], "%s: total checksum", label)
	for k, sum := range want.Sums() {
		require.Equal(t, sum.String(), meta["checksum:"+k], "%s: checksum of %s", label, k)
		require.Equal(t, fmt.Sprint(len(want.Sections[k])), meta["count:"+k], "%s: count of %s", label, k)
	}
	mm, err := rdb.HGet(ctx, snapshot.KeyModelsMeta, "checksum").Result()
	require.NoError(t, err)
	require.Equal(t, want.ModelsChecksum(), mm, "%s: models checksum", label)
}
