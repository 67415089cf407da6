package snapshot_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// quietSync publishes fast but reconciles only soon after taking the lead
// (then hourly): the test runs each further reconcile itself.
func quietSync(c *app.Config) {
	fastSync(c)
	c.Sync.ReconcileInterval = time.Hour
}

// firstReconcile waits until the publisher is in sync (its reconcile
// after taking the lead has run), runs a reconcile and returns the status.
func firstReconcile(t *testing.T, env *testenv.Env) apiclient.SyncStatus {
	t.Helper()
	redisMatchesDatabase(t, env, 10*time.Second)
	res, err := env.Server.Publisher().Reconcile(context.Background())
	require.NoError(t, err)
	require.True(t, res.Matched, "%+v", res)
	st := syncStatus(t, env)
	require.True(t, st.InSync)
	require.NotNil(t, st.LastReconcile)
	require.Equal(t, st.DatabaseVersion, st.LastReconcile.Version)
	return st
}

func syncStatus(t *testing.T, env *testenv.Env) apiclient.SyncStatus {
	t.Helper()
	res, err := env.Client.GetSyncStatusWithResponse(context.Background(), testenv.WithToken(env.AdminToken(t)))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return *res.JSON200
}

// keyspaceEvents records the keyspace notifications of the test's Redis DB
// (which key was written, by which command) until stop is called.
func keyspaceEvents(t *testing.T, env *testenv.Env) (stop func() map[string][]string) {
	t.Helper()
	ctx := context.Background()
	rdb := env.Redis(t)
	prev, err := rdb.ConfigGet(ctx, "notify-keyspace-events").Result()
	require.NoError(t, err)
	require.NoError(t, rdb.ConfigSet(ctx, "notify-keyspace-events", "KA").Err())
	t.Cleanup(func() { rdb.ConfigSet(context.Background(), "notify-keyspace-events", prev["notify-keyspace-events"]) })
	prefix := fmt.Sprintf("__keyspace@%d__:", rdb.Options().DB)
	sub := rdb.PSubscribe(ctx, prefix+"*")
	_, err = sub.Receive(ctx) // subscribed
	require.NoError(t, err)
	var mu sync.Mutex
	events := map[string][]string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range sub.Channel() {
			mu.Lock()
			k := strings.TrimPrefix(msg.Channel, prefix)
			events[k] = append(events[k], msg.Payload)
			mu.Unlock()
		}
	}()
	return func() map[string][]string {
		// A marker written last: once it arrives, every earlier event has.
		marker := fmt.Sprint("test:marker:", time.Now().UnixNano())
		require.NoError(t, rdb.Set(ctx, marker, "1", time.Minute).Err())
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(events[marker]) > 0
		}, 5*time.Second, 10*time.Millisecond)
		_ = sub.Close()
		<-done
		delete(events, marker)
		return events
	}
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestStatusAnswersFromStoredStateAndReconcileRepairsOnlyTheDriftedSection(t *testing.T) {
	env := testenv.Start(t, quietSync)
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	rdb := env.Redis(t)
	pr, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: "drifting",
		Type: apiclient.ProviderTypeOpenai, Models: []string{"gpt-4o"}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, pr.StatusCode(), string(pr.Body))
	m, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "drift-tenant"}, as)
	require.NoError(t, err)
	_, err = env.Client.IssueMasterKeyWithResponse(ctx, m.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "k"}, as)
	require.NoError(t, err)
	_, err = env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "drift-model"}, as)
	require.NoError(t, err)
	before := firstReconcile(t, env)
	require.True(t, before.LastReconcile.Matched)
	require.Equal(t, before.ExpectedChecksum, before.ComputedChecksum)

	field := fmt.Sprint(pr.JSON201.Id)
	good, err := rdb.HGet(ctx, snapshot.KeyProviders, field).Result()
	require.NoError(t, err)
	require.NoError(t, rdb.HSet(ctx, snapshot.KeyProviders, field, `{"tampered":true}`).Err(), "a hand edit")

	// Status reads stored state, not every hash: the edit is not seen yet.
	st := syncStatus(t, env)
	assert.True(t, st.InSync, "status does not read the data hashes")
	assert.Equal(t, before.LastReconcile.At, st.LastReconcile.At, "no reconcile ran")
	assert.Equal(t, st.ExpectedChecksum, st.RedisChecksum, "meta:snapshot was not touched")

	stop := keyspaceEvents(t, env)
	res, err := env.Server.Publisher().Reconcile(ctx)
	require.NoError(t, err)
	events := stop()
	assert.False(t, res.Matched)
	assert.Equal(t, []string{snapshot.KeyProviders}, res.Drifted)
	assert.Equal(t, []string{snapshot.KeyProviders}, res.Repaired)
	assert.Contains(t, events[snapshot.KeyProviders], "rename_to", "the drifted hash is swapped in from staging")
	for _, k := range append(append([]string{snapshot.KeyModelsMeta}, snapshot.DataKeys...), snapshot.IndexKeys...) {
		if k != snapshot.KeyProviders {
			assert.Empty(t, events[k], "%s is not rewritten by repairing another section", k)
		}
	}
	fixed, err := rdb.HGet(ctx, snapshot.KeyProviders, field).Result()
	require.NoError(t, err)
	assert.Equal(t, good, fixed)
	requireRedisEqualsFullBuild(t, env, rdb, "after the repair")

	// Now status reports what the reconcile found, and is in sync again.
	st = syncStatus(t, env)
	require.NotNil(t, st.LastReconcile)
	assert.True(t, st.InSync)
	assert.Equal(t, []string{snapshot.KeyProviders}, st.LastReconcile.Drifted)
	assert.Equal(t, []string{snapshot.KeyProviders}, st.LastReconcile.Repaired)
	assert.False(t, st.LastReconcile.Matched)
	assert.NotEqual(t, st.ExpectedChecksum, st.ComputedChecksum, "computed from what Redis held: the hand edit")

	// The next reconcile finds nothing.
	res, err = env.Server.Publisher().Reconcile(ctx)
	require.NoError(t, err)
	assert.True(t, res.Matched)
	assert.Empty(t, res.Drifted)
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestReconcileRepairsADeletedIndexHash(t *testing.T) {
	env := testenv.Start(t, quietSync)
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	rdb := env.Redis(t)
	m, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "index-tenant"}, as)
	require.NoError(t, err)
	k, err := env.Client.IssueMasterKeyWithResponse(ctx, m.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "k"}, as)
	require.NoError(t, err)
	firstReconcile(t, env)

	require.NoError(t, rdb.Del(ctx, snapshot.IndexKeys[0]).Err(), "someone deleted index:auth:keys")
	res, err := env.Server.Publisher().Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{snapshot.IndexKeys[0]}, res.Drifted, "the data hash itself is intact")
	assert.Equal(t, []string{snapshot.IndexKeys[0]}, res.Repaired)
	requireRedisEqualsFullBuild(t, env, rdb, "after the index repair")

	// The repaired index lets a delta delete what the key published.
	r, err := env.Client.RevokeKeyWithResponse(ctx, k.JSON201.Key.Id, as)
	require.NoError(t, err)
	require.Less(t, r.StatusCode(), 300, string(r.Body))
	hash := sha256hex(k.JSON201.Token)
	require.Eventually(t, func() bool {
		n, err := rdb.HExists(ctx, snapshot.KeyAuthKeys, hash).Result()
		return err == nil && !n
	}, 5*time.Second, 10*time.Millisecond, "the revoked key's entry is gone")
	requireRedisEqualsFullBuild(t, env, rdb, "after the revoke")

	// An index entry naming the wrong key id is drift too.
	k2, err := env.Client.IssueMasterKeyWithResponse(ctx, m.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "k2"}, as)
	require.NoError(t, err)
	redisMatchesDatabase(t, env, 5*time.Second)
	id := fmt.Sprint(k2.JSON201.Key.Id)
	v, err := rdb.HGet(ctx, snapshot.IndexKeys[0], id).Result()
	require.NoError(t, err)
	require.NoError(t, rdb.HDel(ctx, snapshot.IndexKeys[0], id).Err())
	require.NoError(t, rdb.HSet(ctx, snapshot.IndexKeys[0], "999999", v).Err())
	res, err = env.Server.Publisher().Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{snapshot.IndexKeys[0]}, res.Repaired)
	requireRedisEqualsFullBuild(t, env, rdb, "after the second index repair")
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestStreamingResyncInManyChunksEqualsAFromScratchBuild(t *testing.T) {
	env := testenv.Start(t, quietSync, func(c *app.Config) { c.Sync.ChunkSize = 7 })
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	rdb := env.Redis(t)
	// More keys and bindings than the chunk, revoked keys in between (the
	// keyset pagination skips them), and past Redis's small-hash encoding
	// so HSCAN really runs in chunks.
	stmts := []string{
		`INSERT INTO route_groups (name) VALUES ('chunky') ON CONFLICT DO NOTHING`,
		`INSERT INTO providers (name, type, base_url, api_key_mask, group_id, models, weight)
SELECT 'chunk-p' || g, 'openai', 'https://api.example.com/v1', '', (SELECT id FROM route_groups WHERE name = 'chunky'),
       ARRAY['cm-' || (g % 5), 'other-' || g], 1 FROM generate_series(1, 12) g`,
		`INSERT INTO masters (name, token_hash, token_prefix) SELECT 'chunk-m' || g, md5('m' || g) || md5('mm' || g), 'mk-x' FROM generate_series(1, 3) g`,
		`INSERT INTO keys (master_id, name, prefix, token_hash, group_name, allowed_models, issued_by, status)
SELECT (SELECT min(id) FROM masters) + (g % 3), 'k' || g, 'sk-x', md5('k' || g) || md5('kk' || g), 'chunky', '{}', 'master',
       CASE WHEN g % 4 = 0 THEN 'revoked' ELSE 'active' END
FROM generate_series(1, 400) g`,
		`INSERT INTO models (namespace, name, kind) SELECT 'chunky', 'cm-' || g, 'chat' FROM generate_series(0, 29) g`,
		`INSERT INTO bindings (model_id, candidates)
SELECT m.id, jsonb_build_array(jsonb_build_object('route_group', 'chunky', 'weight', 1, 'selector_type', 'exact', 'selector_value', m.name))
FROM models m WHERE m.namespace = 'chunky'`,
	}
	for _, q := range stmts {
		_, err := env.DB.Exec(q)
		require.NoError(t, err, q)
	}
	res, err := env.Client.ResyncSnapshotWithResponse(ctx, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	assert.GreaterOrEqual(t, res.JSON200.Counts[snapshot.KeyAuthKeys], 300)
	assert.GreaterOrEqual(t, res.JSON200.Counts[snapshot.KeyBindings], 30)
	requireRedisEqualsFullBuild(t, env, rdb, "after a resync in chunks of 7")
	enc, err := rdb.ObjectEncoding(ctx, snapshot.KeyAuthKeys).Result()
	require.NoError(t, err)
	require.Equal(t, "hashtable", enc, "large enough for HSCAN to page")

	rec, err := env.Server.Publisher().Reconcile(ctx)
	require.NoError(t, err)
	assert.True(t, rec.Matched, "%+v", rec)
	assert.Equal(t, res.JSON200.Checksum, rec.Checksum)

	// One entry of the big hash changed by hand: found through the chunks
	// and repaired alone.
	fields, _, err := rdb.HScan(ctx, snapshot.KeyAuthKeys, 0, "", 1).Result()
	require.NoError(t, err)
	require.NoError(t, rdb.HSet(ctx, snapshot.KeyAuthKeys, fields[0], `{"id":1}`).Err())
	rec, err = env.Server.Publisher().Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{snapshot.KeyAuthKeys, snapshot.IndexKeys[0]}, rec.Drifted,
		"the value and the key id the index names both differ")
	assert.Equal(t, rec.Drifted, rec.Repaired)
	requireRedisEqualsFullBuild(t, env, rdb, "after repairing auth:keys")
}
