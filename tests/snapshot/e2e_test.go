package snapshot_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/refbalancer"
	"github.com/ez-api/ez-api/tests/testenv"
)

func fastSync(c *app.Config) {
	c.Sync.PollInterval = 50 * time.Millisecond
	c.Sync.ReconcileInterval = 300 * time.Millisecond
	c.Sync.RetryMax = 200 * time.Millisecond
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestReferenceBalancerFollowsTheAPI(t *testing.T) {
	env := testenv.Start(t, fastSync)
	admin := env.AdminToken(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	as := testenv.WithToken(admin)
	rdb := env.Redis(t)

	_, balancerToken := env.CreateServiceToken(t, admin, "ref-balancer", apiclient.ServiceTokenRoleBalancer)
	bal := refbalancer.New(rdb, env.Config.Redis.KeyPrefix)
	go bal.Follow(ctx)

	upstreamKey := "sk-upstream-0123456789abcdef"
	group := "e2e"
	prov, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{
		Name: "e2e-openai", Type: apiclient.ProviderTypeOpenai, ApiKey: &upstreamKey, Group: &group,
		Models: []string{"gpt-4o-2024-08-06", "gpt-4o-mini"}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, prov.StatusCode(), string(prov.Body))
	mod, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "gpt-4o"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, mod.StatusCode())
	bind, err := env.Client.CreateBindingWithResponse(ctx, apiclient.CreateBindingJSONRequestBody{PublicModel: "gpt-4o",
		Candidates: apiclient.BindingCandidates{{RouteGroup: &group, SelectorType: apiclient.SelectorTypeRegex, SelectorValue: "^gpt-4o-2024"}}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, bind.StatusCode(), string(bind.Body))
	master, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "e2e-tenant"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, master.StatusCode())
	key, err := env.Client.IssueMasterKeyWithResponse(ctx, master.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "app"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, key.StatusCode())
	token := key.JSON201.Token

	authorize := func() (refbalancer.Route, error) {
		return bal.Authorize(token, "default.gpt-4o", time.Now())
	}
	var route refbalancer.Route
	require.Eventually(t, func() bool {
		_ = bal.Load(ctx)
		r, err := authorize()
		route = r
		return err == nil
	}, time.Second, 10*time.Millisecond, "the balancer accepts the new key and routes within 1 s")
	assert.Equal(t, prov.JSON201.Id, route.ProviderID)
	assert.Equal(t, "gpt-4o-2024-08-06", route.UpstreamModel)
	assert.Equal(t, upstreamKey, route.APIKey, "the balancer gets the decrypted upstream key")

	t.Run("heartbeat_shows_in_sync_status", func(t *testing.T) {
		// The balancer follows the change channel meanwhile: the version it
		// reports lies between what it held before and after the heartbeat.
		before := bal.Version()
		require.NoError(t, bal.Heartbeat(ctx, env.BaseURL, balancerToken, "ref-1"))
		after := bal.Version()
		st, err := env.Client.GetSyncStatusWithResponse(ctx, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, st.StatusCode(), string(st.Body))
		require.Len(t, st.JSON200.Balancers, 1)
		b := st.JSON200.Balancers[0]
		assert.Equal(t, "ref-1", b.InstanceId)
		assert.GreaterOrEqual(t, b.SnapshotVersion, before)
		assert.LessOrEqual(t, b.SnapshotVersion, after)
		assert.GreaterOrEqual(t, b.Lag, int64(0))
	})

	t.Run("disabling_the_provider_changes_the_route", func(t *testing.T) {
		alt, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{
			Name: "e2e-backup", Type: apiclient.ProviderTypeOpenai, Group: &group, Models: []string{"gpt-4o-2024-11-20"}}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, alt.StatusCode())
		disabled := apiclient.ProviderStatusDisabled
		res, err := env.Client.UpdateProviderWithResponse(ctx, prov.JSON201.Id, apiclient.UpdateProviderJSONRequestBody{Status: &disabled}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		require.Eventually(t, func() bool {
			_ = bal.Load(ctx)
			r, err := authorize()
			return err == nil && r.ProviderID == alt.JSON201.Id && r.UpstreamModel == "gpt-4o-2024-11-20"
		}, time.Second, 10*time.Millisecond)
	})

	t.Run("revoked_key_is_rejected_within_one_second", func(t *testing.T) {
		other, err := env.Client.IssueMasterKeyWithResponse(ctx, master.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "other"}, as)
		require.NoError(t, err)
		res, err := env.Client.RevokeKeyWithResponse(ctx, other.JSON201.Key.Id, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, res.StatusCode())
		require.Eventually(t, func() bool {
			_ = bal.Load(ctx)
			_, err := bal.Authorize(other.JSON201.Token, "default.gpt-4o", time.Now())
			return err == refbalancer.ErrUnknownKey
		}, time.Second, 10*time.Millisecond)
	})

	t.Run("suspended_master_keys_are_rejected", func(t *testing.T) {
		st := apiclient.MasterStatusSuspended
		res, err := env.Client.UpdateMasterWithResponse(ctx, master.JSON201.Master.Id, apiclient.UpdateMasterJSONRequestBody{Status: &st}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		require.Eventually(t, func() bool {
			_ = bal.Load(ctx)
			_, err := authorize()
			return err == refbalancer.ErrKeyInactive
		}, time.Second, 10*time.Millisecond)
	})

	t.Run("status_reports_in_sync_and_resync_returns_counts", func(t *testing.T) {
		require.Eventually(t, func() bool {
			st, err := env.Client.GetSyncStatusWithResponse(ctx, as)
			return err == nil && st.JSON200 != nil && st.JSON200.InSync && st.JSON200.OutboxBacklog == 0
		}, 2*time.Second, 20*time.Millisecond)
		res, err := env.Client.ResyncSnapshotWithResponse(ctx, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		assert.Equal(t, 2, res.JSON200.Counts[snapshot.KeyProviders])
		assert.Equal(t, 1, res.JSON200.Counts[snapshot.KeyBindings])
		assert.Equal(t, 1, res.JSON200.Counts[snapshot.KeyAuthKeys], "the revoked key is gone")
		meta, err := rdb.HGetAll(ctx, snapshot.KeySnapshot).Result()
		require.NoError(t, err)
		assert.Equal(t, res.JSON200.Checksum, meta["checksum"])
	})
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestClockDrivenChangesArePublishedWithANewVersion(t *testing.T) {
	env := testenv.Start(t, fastSync)
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)
	rdb := env.Redis(t)
	m, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "clock-tenant"}, as)
	require.NoError(t, err)
	soon := time.Now().Add(1500 * time.Millisecond)
	k, err := env.Client.IssueMasterKeyWithResponse(ctx, m.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "short-lived", ExpiresAt: &soon}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, k.StatusCode())
	oldHash := sha256hex(k.JSON201.Token)
	grace := int32(1)
	rot, err := env.Client.RotateKeyWithResponse(ctx, k.JSON201.Key.Id, apiclient.RotateKeyJSONRequestBody{GraceSeconds: &grace}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, rot.StatusCode())
	newHash := sha256hex(rot.JSON200.Token)

	require.Eventually(t, func() bool {
		n, _ := rdb.HExists(ctx, snapshot.KeyAuthKeys, oldHash).Result()
		return n
	}, 2*time.Second, 20*time.Millisecond, "both tokens published during the grace period")
	before, err := rdb.HGet(ctx, snapshot.KeySnapshot, "version").Int64()
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		gone, _ := rdb.HExists(ctx, snapshot.KeyAuthKeys, oldHash).Result()
		return !gone
	}, 5*time.Second, 20*time.Millisecond, "the previous token drops out when the grace ends")
	require.Eventually(t, func() bool {
		v, err := rdb.HGet(ctx, snapshot.KeyAuthKeys, newHash).Result()
		return err == nil && strings.Contains(v, `"status":"expired"`)
	}, 5*time.Second, 20*time.Millisecond, "the key turns expired in Redis when expires_at passes")
	after, err := rdb.HGet(ctx, snapshot.KeySnapshot, "version").Int64()
	require.NoError(t, err)
	assert.Greater(t, after, before, "each clock-driven change has a version of its own")
	redisMatchesDatabase(t, env, 5*time.Second)
	requireRedisEqualsFullBuild(t, env, rdb, "after the clock-driven changes")
}
