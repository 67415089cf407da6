package snapshot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oapi-codegen/nullable"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// redisMatchesDatabase waits until Redis holds the database's snapshot.
func redisMatchesDatabase(t *testing.T, env *testenv.Env, within time.Duration) {
	t.Helper()
	as := testenv.WithToken(env.AdminToken(t))
	require.Eventually(t, func() bool {
		st, err := env.Client.GetSyncStatusWithResponse(context.Background(), as)
		return err == nil && st.JSON200 != nil && st.JSON200.InSync && st.JSON200.OutboxBacklog == 0 &&
			st.JSON200.RedisVersion == st.JSON200.DatabaseVersion
	}, within, 20*time.Millisecond)
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestRedisOutageLosesNoChange(t *testing.T) {
	proxy := testenv.NewProxy(t, testenv.RedisAddr())
	// Pub/sub channels are not scoped by Redis DB index: a key prefix keeps
	// the events of test packages running at the same time out of this one.
	const prefix = "outage:"
	env := testenv.Start(t, fastSync, func(c *app.Config) {
		c.Redis.Addr = proxy.Addr()
		c.Redis.KeyPrefix = prefix
		c.Sync.ResyncTimeout = time.Second
	})
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)
	redisMatchesDatabase(t, env, 5*time.Second)

	// Events from here on, read straight from Redis (not through the proxy).
	sub := env.Redis(t).Subscribe(ctx, prefix+snapshot.Channel)
	defer sub.Close()
	_, err := sub.Receive(ctx)
	require.NoError(t, err)
	var (
		mu       sync.Mutex
		versions []int64
		kinds    []string
	)
	go func() {
		for msg := range sub.Channel() {
			var ev snapshot.Event
			if json.Unmarshal([]byte(msg.Payload), &ev) == nil {
				mu.Lock()
				versions = append(versions, ev.Version)
				kinds = append(kinds, ev.Kind)
				mu.Unlock()
			}
		}
	}()

	proxy.Cut()
	for i := range 100 {
		res, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: fmt.Sprintf("outage-%03d", i)}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), "every API call succeeds while Redis is away")
	}
	h, err := env.Client.GetHealthWithResponse(ctx)
	require.NoError(t, err)
	assert.Equal(t, apiclient.HealthStatusDegraded, h.JSON200.Status)
	st, err := env.Client.GetSyncStatusWithResponse(ctx, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st.StatusCode())
	assert.GreaterOrEqual(t, st.JSON200.OutboxBacklog, 100, "the backlog is visible")
	assert.NotNil(t, st.JSON200.RedisError)
	rs, err := env.Client.ResyncSnapshotWithResponse(ctx, as)
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, rs.StatusCode(), "a resync cannot complete without Redis")

	proxy.Restore(t)
	redisMatchesDatabase(t, env, 10*time.Second)
	fields, err := env.Redis(t).HKeys(ctx, prefix+snapshot.KeyModels).Result()
	require.NoError(t, err)
	outage := 0
	for _, f := range fields {
		if strings.HasPrefix(f, "default.outage-") {
			outage++
		}
	}
	assert.Equal(t, 100, outage, "all 100 changes reached Redis")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, versions)
	for i := 1; i < len(versions); i++ {
		// A full resync may republish the version it finds (the one the
		// outage-time POST /sync/snapshot asked for); deltas always move on.
		if kinds[i] == "delta" {
			assert.Greater(t, versions[i], versions[i-1], "delta versions strictly increase: none repeated or reordered")
		} else {
			assert.GreaterOrEqual(t, versions[i], versions[i-1], "the version never moves backwards")
		}
	}
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestReconcileRepairsAFlushedRedis(t *testing.T) {
	env := testenv.Start(t, fastSync)
	admin := env.AdminToken(t)
	ctx := context.Background()
	_, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "survivor"}, testenv.WithToken(admin))
	require.NoError(t, err)
	redisMatchesDatabase(t, env, 5*time.Second)

	rdb := env.Redis(t)
	keys := append([]string{snapshot.KeySnapshot, snapshot.KeyModelsMeta}, snapshot.DataKeys...)
	require.NoError(t, rdb.Del(ctx, keys...).Err(), "someone flushed the snapshot")
	require.NoError(t, rdb.HSet(ctx, snapshot.KeyFeatures, "hand_edit", "oops").Err())

	redisMatchesDatabase(t, env, env.Config.Sync.ReconcileInterval+3*time.Second)
	ok, err := rdb.HExists(ctx, snapshot.KeyModels, "default.survivor").Result()
	require.NoError(t, err)
	assert.True(t, ok)
	edited, err := rdb.HExists(ctx, snapshot.KeyFeatures, "hand_edit").Result()
	require.NoError(t, err)
	assert.False(t, edited, "the hand edit is gone")
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestOneReplicaPublishesAndAnotherTakesOver(t *testing.T) {
	a := testenv.Start(t, fastSync)
	b := testenv.Start(t, fastSync)
	admin := a.AdminToken(t)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		return a.Server.Publisher().Leader() != b.Server.Publisher().Leader()
	}, 5*time.Second, 20*time.Millisecond, "exactly one replica publishes")

	leader, follower := a, b
	if b.Server.Publisher().Leader() {
		leader, follower = b, a
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, leader.Server.Shutdown(sctx), "the publishing replica goes away")

	res, err := follower.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "after-failover"}, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode())
	require.Eventually(t, func() bool { return follower.Server.Publisher().Leader() }, 5*time.Second, 20*time.Millisecond,
		"the other replica takes over within a few seconds")
	redisMatchesDatabase(t, follower, 5*time.Second)
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestUndecryptableProviderIsPublishedFailClosed(t *testing.T) {
	env := testenv.Start(t, fastSync)
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	rdb := env.Redis(t)
	secret, group := "sk-undecryptable-0123456789", "faulty"
	bad, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: "faulty-secret",
		Type: apiclient.ProviderTypeOpenai, ApiKey: &secret, Group: &group, Models: []string{"m-1"}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, bad.StatusCode(), string(bad.Body))
	redisMatchesDatabase(t, env, 5*time.Second)

	// The secret as a replica with another encryption key would have written
	// it (a provider update: the row and its outbox change in one
	// transaction): this replica cannot decrypt it.
	require.NoError(t, postgres.NewTxRunner(env.DB).InTx(ctx, func(ctx context.Context) error {
		if _, err := env.DB.ExecContext(ctx, `UPDATE providers SET api_key_ciphertext = $1 WHERE id = $2`,
			[]byte("\x01\x07not-a-ciphertext-of-this-key"), bad.JSON201.Id); err != nil {
			return err
		}
		_, err := postgres.NewChangeRecorder(env.DB).Record(ctx, domain.SectionProviders, fmt.Sprint(bad.JSON201.Id), domain.OpUpsert)
		return err
	}))
	res, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "after-bad-row"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode())

	field := fmt.Sprint(bad.JSON201.Id)
	require.Eventually(t, func() bool {
		ok, _ := rdb.HExists(ctx, snapshot.KeyModels, "default.after-bad-row").Result()
		return ok
	}, 5*time.Second, 20*time.Millisecond, "other changes keep flowing")
	raw, err := rdb.HGet(ctx, snapshot.KeyProviders, field).Result()
	require.NoError(t, err)
	var p snapshot.ProviderJSON
	require.NoError(t, json.Unmarshal([]byte(raw), &p))
	assert.Equal(t, "disabled", p.Status, "not routable")
	assert.Empty(t, p.APIKey, "no secret")
	assert.Equal(t, snapshot.FaultSecretUndecryptable, p.Error)

	st, err := env.Client.GetSyncStatusWithResponse(ctx, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st.StatusCode(), string(st.Body))
	require.NotNil(t, st.JSON200.Faults)
	assert.Contains(t, *st.JSON200.Faults, apiclient.SnapshotFault{Key: snapshot.KeyProviders, Field: field,
		Reason: snapshot.FaultSecretUndecryptable})
	assert.Empty(t, st.JSON200.LastError, "publishing did not fail")

	metrics, err := env.HTTP.Get(env.BaseURL + "/metrics")
	require.NoError(t, err)
	defer metrics.Body.Close()
	body := new(strings.Builder)
	_, err = io.Copy(body, metrics.Body)
	require.NoError(t, err)
	assert.Contains(t, body.String(), "ezapi_snapshot_faults 1")

	// Fixing the row (a new secret) clears the fault.
	fresh := "sk-fixed-0123456789"
	up, err := env.Client.UpdateProviderWithResponse(ctx, bad.JSON201.Id, apiclient.UpdateProviderJSONRequestBody{ApiKey: nullable.NewNullableWithValue(fresh)}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, up.StatusCode(), string(up.Body))
	require.Eventually(t, func() bool {
		raw, err := rdb.HGet(ctx, snapshot.KeyProviders, field).Result()
		return err == nil && json.Unmarshal([]byte(raw), &p) == nil && p.APIKey == fresh && p.Status == "active"
	}, 5*time.Second, 20*time.Millisecond)
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestRedisAheadOfTheDatabaseIsOvertaken(t *testing.T) {
	env := testenv.Start(t, fastSync)
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	rdb := env.Redis(t)
	redisMatchesDatabase(t, env, 5*time.Second)

	// Redis holds a snapshot of a newer database (a restored database, an
	// earlier install).
	const ahead = 5_000_000
	require.NoError(t, rdb.HSet(ctx, snapshot.KeySnapshot, "version", ahead).Err())
	res, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "after-restore"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode())

	require.Eventually(t, func() bool {
		v, err := rdb.HGet(ctx, snapshot.KeySnapshot, "version").Int64()
		ok, _ := rdb.HExists(ctx, snapshot.KeyModels, "default.after-restore").Result()
		return err == nil && v > ahead && ok
	}, 5*time.Second, 20*time.Millisecond, "the database's version moves past Redis's and the change is published")
	redisMatchesDatabase(t, env, 5*time.Second)

	rs, err := env.Client.ResyncSnapshotWithResponse(ctx, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, rs.StatusCode(), string(rs.Body))
	assert.Greater(t, rs.JSON200.Version, int64(ahead))

	// Again, with no change pending: POST /sync/snapshot still succeeds.
	require.NoError(t, rdb.HSet(ctx, snapshot.KeySnapshot, "version", 2*ahead).Err())
	rs, err = env.Client.ResyncSnapshotWithResponse(ctx, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, rs.StatusCode(), string(rs.Body))
	assert.Greater(t, rs.JSON200.Version, int64(2*ahead))
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestFailingPublisherDegradesHealthAndResyncSaysWhy(t *testing.T) {
	proxy := testenv.NewProxy(t, testenv.RedisAddr())
	env := testenv.Start(t, fastSync, func(c *app.Config) {
		c.Redis.Addr = proxy.Addr()
		c.Sync.ResyncTimeout = 500 * time.Millisecond
		c.Sync.DegradedAfter = 200 * time.Millisecond
	})
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	redisMatchesDatabase(t, env, 5*time.Second)
	h, err := env.Client.GetHealthWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, apiclient.HealthStatusHealthy, h.JSON200.Status)

	proxy.Cut()
	res, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "while-failing"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode())
	require.Eventually(t, func() bool {
		h, err := env.Client.GetHealthWithResponse(ctx)
		if err != nil || h.JSON200 == nil {
			return false
		}
		c, ok := h.JSON200.Checks["snapshot_publisher"]
		return ok && c.Status != "up" && h.JSON200.Status == apiclient.HealthStatusDegraded
	}, 5*time.Second, 20*time.Millisecond, "the failing publisher is reported")

	rs, err := env.Client.ResyncSnapshotWithResponse(ctx, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, rs.StatusCode())
	require.NotNil(t, rs.ApplicationproblemJSON503, string(rs.Body))
	require.NotNil(t, rs.ApplicationproblemJSON503.Detail, "the problem says why: %s", rs.Body)
	assert.Contains(t, *rs.ApplicationproblemJSON503.Detail, "full resync did not complete within 500ms")
	assert.Contains(t, *rs.ApplicationproblemJSON503.Detail, "redis")

	proxy.Restore(t)
	require.Eventually(t, func() bool {
		h, err := env.Client.GetHealthWithResponse(ctx)
		return err == nil && h.JSON200 != nil && h.JSON200.Status == apiclient.HealthStatusHealthy
	}, 10*time.Second, 20*time.Millisecond, "healthy again once publishing works")
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestChangeOnAnotherReplicaWakesThePublisher(t *testing.T) {
	slowPoll := func(c *app.Config) {
		c.Sync.PollInterval = time.Minute // polling cannot be what delivers the change
		c.Sync.ReconcileInterval = time.Hour
		c.Sync.RetryMax = 200 * time.Millisecond
	}
	a := testenv.Start(t, slowPoll)
	b := testenv.Start(t, slowPoll)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		return a.Server.Publisher().Leader() != b.Server.Publisher().Leader()
	}, 5*time.Second, 20*time.Millisecond, "exactly one replica publishes")
	follower := a
	if a.Server.Publisher().Leader() {
		follower = b
	}
	rdb := follower.Redis(t)
	for i := range 3 {
		name := fmt.Sprintf("from-follower-%d", i)
		res, err := follower.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: name},
			testenv.WithToken(follower.AdminToken(t)))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode())
		require.Eventually(t, func() bool {
			ok, _ := rdb.HExists(ctx, snapshot.KeyModels, "default."+name).Result()
			return ok
		}, 5*time.Second, 5*time.Millisecond, "LISTEN/NOTIFY wakes the publishing replica, far before its 1 min poll")
	}
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestPathologicalRegexIsRejectedNamingTheCandidate(t *testing.T) {
	env := testenv.Start(t, fastSync)
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	mod, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "runaway"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, mod.StatusCode())
	group := "default"
	res, err := env.Client.CreateBindingWithResponse(ctx, apiclient.CreateBindingJSONRequestBody{PublicModel: "runaway",
		Candidates: apiclient.BindingCandidates{
			{RouteGroup: &group, SelectorType: apiclient.SelectorTypeExact, SelectorValue: "runaway"},
			{RouteGroup: &group, SelectorType: apiclient.SelectorTypeRegex, SelectorValue: "[a-z]{1000}[0-9]{1000}"}}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode(), string(res.Body))
	assert.Contains(t, string(res.Body), `"field":"candidates.1"`)
	assert.Contains(t, string(res.Body), "regex too complex")
}
