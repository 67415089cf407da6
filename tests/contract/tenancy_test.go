package contract_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// createMasterAPI makes a master through the API and returns it with its token.
func createMasterAPI(t *testing.T, env *testenv.Env, admin string, body apiclient.CreateMasterJSONRequestBody) (apiclient.Master, string) {
	t.Helper()
	res, err := env.Client.CreateMasterWithResponse(context.Background(), body, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
	return res.JSON201.Master, res.JSON201.Token
}

// Not parallel: it counts rows to prove bad input writes nothing.
func TestMastersAndKeys(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)
	maxKeys := int32(3)
	acme, acmeToken := createMasterAPI(t, env, admin, apiclient.CreateMasterJSONRequestBody{Name: "acme", MaxKeys: &maxKeys})
	other, otherToken := createMasterAPI(t, env, admin, apiclient.CreateMasterJSONRequestBody{Name: "globex"})
	asAcme, asOther := testenv.WithToken(acmeToken), testenv.WithToken(otherToken)
	mres, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "tenancy-model"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, mres.StatusCode())

	t.Run("createMaster201_token_once_and_409_duplicate", func(t *testing.T) {
		assert.True(t, strings.HasPrefix(acmeToken, "mk-"))
		assert.Equal(t, "default", acme.Group)
		assert.Equal(t, int32(3), acme.Limits.MaxKeys)
		res, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "acme"}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusConflict, res.StatusCode())
		get, err := env.Client.GetMasterWithResponse(ctx, acme.Id, as)
		require.NoError(t, err)
		assert.NotContains(t, string(get.Body), acmeToken)
	})

	var keyID int64
	var keyToken string
	t.Run("createKey201_by_a_master_hashes_to_the_stored_hash", func(t *testing.T) {
		models := []string{"default.tenancy-model"}
		ips := []string{"10.0.0.1", "2001:db8::/32"}
		rpm := int32(60)
		res, err := env.Client.CreateKeyWithResponse(ctx, apiclient.CreateKeyJSONRequestBody{
			Name: "backend", AllowedModels: &models, AllowedIps: &ips, RpmLimit: &rpm}, asAcme)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		k := res.JSON201.Key
		keyID, keyToken = k.Id, res.JSON201.Token
		assert.True(t, strings.HasPrefix(keyToken, "sk-"))
		assert.Len(t, keyToken, 46)
		assert.Equal(t, acme.Id, k.MasterId)
		assert.Equal(t, "master", k.IssuedBy)
		assert.Equal(t, []string{"10.0.0.1/32", "2001:db8::/32"}, k.AllowedIps)
		assert.Equal(t, apiclient.KeyStatusActive, k.Status)

		var stored string
		require.NoError(t, env.DB.Get(&stored, `SELECT token_hash FROM keys WHERE id = $1`, keyID))
		assert.Equal(t, sha256hex(keyToken), stored)
	})

	t.Run("no_endpoint_returns_the_token_again", func(t *testing.T) {
		bodies := []string{}
		g, err := env.Client.GetKeyWithResponse(ctx, keyID, as)
		require.NoError(t, err)
		bodies = append(bodies, string(g.Body))
		l, err := env.Client.ListKeysWithResponse(ctx, &apiclient.ListKeysParams{}, asAcme)
		require.NoError(t, err)
		bodies = append(bodies, string(l.Body))
		ml, err := env.Client.ListMasterKeysWithResponse(ctx, acme.Id, &apiclient.ListMasterKeysParams{}, as)
		require.NoError(t, err)
		bodies = append(bodies, string(ml.Body))
		a, err := env.Client.ListAuditWithResponse(ctx, &apiclient.ListAuditParams{}, as)
		require.NoError(t, err)
		bodies = append(bodies, string(a.Body))
		for _, b := range bodies {
			assert.NotContains(t, b, keyToken)
			assert.NotContains(t, b, sha256hex(keyToken), "not even the hash")
		}
	})

	t.Run("issueMasterKey201_by_an_admin_is_recorded_as_such", func(t *testing.T) {
		res, err := env.Client.IssueMasterKeyWithResponse(ctx, acme.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "ops"}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		me, err := env.Client.GetMeWithResponse(ctx, as)
		require.NoError(t, err)
		assert.Equal(t, "admin:"+itoa(me.JSON200.Id), res.JSON201.Key.IssuedBy)
		assert.Equal(t, acme.Id, res.JSON201.Key.MasterId)
		var actor string
		require.NoError(t, env.DB.Get(&actor, `SELECT actor_type || ':' || actor_id FROM audit_log WHERE action = 'key.create' AND resource_id = $1`,
			itoa(res.JSON201.Key.Id)))
		assert.Equal(t, "operator:"+itoa(me.JSON200.Id), actor)
	})

	t.Run("createKey_bad_input_changes_nothing", func(t *testing.T) {
		cases := map[string]struct {
			body   string
			status int
			field  string
		}{
			"expired_expiry":        {`{"name":"x","expires_at":"2001-01-01T00:00:00Z"}`, 422, "expires_at"},
			"malformed_cidr":        {`{"name":"x","allowed_ips":["10.0.0.0/99"]}`, 422, "allowed_ips.0"},
			"unknown_model":         {`{"name":"x","allowed_models":["default.nope"]}`, 422, "allowed_models"},
			"negative_budget":       {`{"name":"x","budget_usd":-1}`, 400, ""},
			"period_without_budget": {`{"name":"x","budget_period":"monthly"}`, 422, "budget_period"},
			"rpm_zero":              {`{"name":"x","rpm_limit":0}`, 400, ""},
			"rpm_beyond_max":        {`{"name":"x","rpm_limit":100000000}`, 422, "rpm_limit"},
			"master_sets_master_id": {`{"name":"x","master_id":2}`, 400, ""},
			"master_sets_issued_by": {`{"name":"x","issued_by":"admin:1"}`, 400, ""},
			"master_sets_status":    {`{"name":"x","status":"exhausted"}`, 400, ""},
			"master_sets_usage":     {`{"name":"x","usage":{"tokens":0,"cost_usd":0}}`, 400, ""},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				before := countRows(t, env, "keys")
				p := problemOf(t, rawJSON(t, env, http.MethodPost, "/keys", acmeToken, []byte(tc.body)), tc.status)
				if tc.field != "" {
					require.NotNil(t, p.Errors)
					assert.Equal(t, tc.field, (*p.Errors)[0].Field)
				}
				assert.Equal(t, before, countRows(t, env, "keys"))
			})
		}
	})

	t.Run("createKey422_for_an_operator", func(t *testing.T) {
		problemOf(t, rawJSON(t, env, http.MethodPost, "/keys", admin, []byte(`{"name":"x"}`)), http.StatusUnprocessableEntity)
	})

	t.Run("max_keys_is_enforced_with_the_limit_in_the_detail", func(t *testing.T) {
		res, err := env.Client.CreateKeyWithResponse(ctx, apiclient.CreateKeyJSONRequestBody{Name: "third"}, asAcme)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode())
		before := countRows(t, env, "keys")
		res, err = env.Client.CreateKeyWithResponse(ctx, apiclient.CreateKeyJSONRequestBody{Name: "fourth"}, asAcme)
		require.NoError(t, err)
		require.Equal(t, http.StatusConflict, res.StatusCode())
		assert.Contains(t, *res.ApplicationproblemJSON409.Detail, "max_keys 3")
		assert.Equal(t, before, countRows(t, env, "keys"))
	})

	t.Run("tenant_isolation_is_404_everywhere", func(t *testing.T) {
		g, err := env.Client.GetKeyWithResponse(ctx, keyID, asOther)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, g.StatusCode())
		problemOf(t, rawJSON(t, env, http.MethodPatch, "/keys/"+itoa(keyID), otherToken, []byte(`{"status":"disabled"}`)), http.StatusNotFound)
		problemOf(t, rawJSON(t, env, http.MethodPost, "/keys/"+itoa(keyID)+"/rotate", otherToken, []byte(`{}`)), http.StatusNotFound)
		r, err := env.Client.RevokeKeyWithResponse(ctx, keyID, asOther)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, r.StatusCode())
		l, err := env.Client.ListKeysWithResponse(ctx, &apiclient.ListKeysParams{MasterId: &acme.Id}, asOther)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, l.StatusCode())
		assert.Empty(t, l.JSON200.Items, "lists never include other masters' keys")
		gm, err := env.Client.GetMasterWithResponse(ctx, acme.Id, asOther)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, gm.StatusCode())
		mk, err := env.Client.ListMasterKeysWithResponse(ctx, acme.Id, &apiclient.ListMasterKeysParams{}, asOther)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, mk.StatusCode())
		ms, err := env.Client.ListMastersWithResponse(ctx, &apiclient.ListMastersParams{}, asOther)
		require.NoError(t, err)
		require.Len(t, ms.JSON200.Items, 1)
		assert.Equal(t, other.Id, ms.JSON200.Items[0].Id)
		var status string
		require.NoError(t, env.DB.Get(&status, `SELECT status FROM keys WHERE id = $1`, keyID))
		assert.Equal(t, "active", status, "nothing changed")
	})

	t.Run("updateKey200_disable_and_enable_by_owner", func(t *testing.T) {
		for _, st := range []string{"disabled", "active"} {
			res := rawJSON(t, env, http.MethodPatch, "/keys/"+itoa(keyID), acmeToken, []byte(`{"status":"`+st+`"}`))
			require.Equal(t, http.StatusOK, res.StatusCode)
		}
		res := rawJSON(t, env, http.MethodPatch, "/keys/"+itoa(keyID), acmeToken, []byte(`{"rpm_limit":null,"budget_usd":5,"budget_period":"daily"}`))
		require.Equal(t, http.StatusOK, res.StatusCode)
	})

	t.Run("rotateKey200_old_token_in_grace", func(t *testing.T) {
		grace := int32(600)
		res, err := env.Client.RotateKeyWithResponse(ctx, keyID, apiclient.RotateKeyJSONRequestBody{GraceSeconds: &grace}, asAcme)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		assert.NotEqual(t, keyToken, res.JSON200.Token)
		require.False(t, res.JSON200.Key.GraceUntil.IsNull())
		assert.WithinDuration(t, time.Now().Add(600*time.Second), res.JSON200.Key.GraceUntil.MustGet(), time.Minute)
		var cur, prev string
		require.NoError(t, env.DB.QueryRow(`SELECT token_hash, prev_token_hash FROM keys WHERE id = $1`, keyID).Scan(&cur, &prev))
		assert.Equal(t, sha256hex(res.JSON200.Token), cur)
		assert.Equal(t, sha256hex(keyToken), prev)

		tooLong := int32(env.Config.Keys.MaxGraceSeconds + 1)
		bad, err := env.Client.RotateKeyWithResponse(ctx, keyID, apiclient.RotateKeyJSONRequestBody{GraceSeconds: &tooLong}, asAcme)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode())
	})

	t.Run("revokeKey204_is_final", func(t *testing.T) {
		r, err := env.Client.RevokeKeyWithResponse(ctx, keyID, asAcme)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, r.StatusCode())
		g, err := env.Client.GetKeyWithResponse(ctx, keyID, asAcme)
		require.NoError(t, err)
		assert.Equal(t, apiclient.KeyStatusRevoked, g.JSON200.Status)
		problemOf(t, rawJSON(t, env, http.MethodPost, "/keys/"+itoa(keyID)+"/rotate", acmeToken, []byte(`{}`)), http.StatusConflict)
		problemOf(t, rawJSON(t, env, http.MethodPatch, "/keys/"+itoa(keyID), acmeToken, []byte(`{"status":"active"}`)), http.StatusConflict)
		r, err = env.Client.RevokeKeyWithResponse(ctx, 987654, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, r.StatusCode())
	})

	t.Run("suspended_master_cannot_get_keys_and_its_token_stops", func(t *testing.T) {
		res := rawJSON(t, env, http.MethodPatch, "/admin/masters/"+itoa(other.Id), admin, []byte(`{"status":"suspended"}`))
		require.Equal(t, http.StatusOK, res.StatusCode)
		me, err := env.Client.GetMeWithResponse(ctx, asOther)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, me.StatusCode(), "at once on this replica")
		problemOf(t, rawJSON(t, env, http.MethodPost, "/admin/masters/"+itoa(other.Id)+"/keys", admin, []byte(`{"name":"x"}`)), http.StatusConflict)
		problemOf(t, rawJSON(t, env, http.MethodPost, "/admin/masters/987654/keys", admin, []byte(`{"name":"x"}`)), http.StatusNotFound)
	})

	t.Run("rotateMasterToken200_old_token_stops", func(t *testing.T) {
		res, err := env.Client.RotateMasterTokenWithResponse(ctx, acme.Id, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		old, err := env.Client.GetMeWithResponse(ctx, asAcme)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, old.StatusCode())
		fresh, err := env.Client.GetMeWithResponse(ctx, testenv.WithToken(res.JSON200.Token))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, fresh.StatusCode())
	})

	t.Run("deleteMaster409_with_keys_then_cascade_revokes", func(t *testing.T) {
		res, err := env.Client.DeleteMasterWithResponse(ctx, acme.Id, &apiclient.DeleteMasterParams{}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusConflict, res.StatusCode())
		cascade := true
		res, err = env.Client.DeleteMasterWithResponse(ctx, acme.Id, &apiclient.DeleteMasterParams{Cascade: &cascade}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, res.StatusCode())
		var revoked int
		require.NoError(t, env.DB.Get(&revoked, `SELECT count(*) FROM audit_log WHERE action = 'key.revoke' AND changes->>'reason' = 'master deleted'`))
		assert.Equal(t, 2, revoked, "the two live keys were revoked")
		g, err := env.Client.GetMasterWithResponse(ctx, acme.Id, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, g.StatusCode())
		res, err = env.Client.DeleteMasterWithResponse(ctx, acme.Id, &apiclient.DeleteMasterParams{}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, res.StatusCode())
	})
}

// Not parallel: feature flags are one global map.
func TestFeatures(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)

	put := func(body string) *http.Response {
		return rawJSON(t, env, http.MethodPut, "/admin/features", admin, []byte(body))
	}
	res := put(`{"dp_state_store_backend":"redis","dp_claude_cross_upstream":true,"beta_ratio":0.25,"max_n":3,"label":"x"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	get, err := env.Client.GetFeaturesWithResponse(ctx, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, get.StatusCode())
	assert.Equal(t, apiclient.FeatureFlags{"dp_state_store_backend": "redis", "dp_claude_cross_upstream": "true",
		"beta_ratio": "0.25", "max_n": "3", "label": "x"}, *get.JSON200)

	res = put(`{"label":null,"max_n":4}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	get, err = env.Client.GetFeaturesWithResponse(ctx, as)
	require.NoError(t, err)
	assert.NotContains(t, *get.JSON200, "label")
	assert.Equal(t, "4", (*get.JSON200)["max_n"])

	before := countRows(t, env, "feature_flags")
	problemOf(t, put(`{"dp_state_store_backend":"etcd"}`), http.StatusUnprocessableEntity)
	problemOf(t, put(`{"dp_claude_cross_upstream":"yes"}`), http.StatusUnprocessableEntity)
	problemOf(t, put(`{"nested":{"a":1}}`), http.StatusBadRequest)
	problemOf(t, put(`{}`), http.StatusBadRequest)
	problemOf(t, put(`{"Bad Name":"x"}`), http.StatusUnprocessableEntity)
	assert.Equal(t, before, countRows(t, env, "feature_flags"), "nothing written")

	// Each flag change was recorded for the snapshot (it carries a change number).
	var recorded []string
	require.NoError(t, env.DB.Select(&recorded, `SELECT action || ':' || resource_id FROM audit_log
WHERE resource_type = 'feature' AND changes ? 'change_seq' ORDER BY id`))
	assert.Contains(t, recorded, "feature.delete:label")
	assert.Contains(t, recorded, "feature.set:dp_state_store_backend")
}

func TestAuditAPI(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)
	m, _ := createMasterAPI(t, env, admin, apiclient.CreateMasterJSONRequestBody{Name: "audited-tenant"})

	rt := "master"
	rid := itoa(m.Id)
	res, err := env.Client.ListAuditWithResponse(ctx, &apiclient.ListAuditParams{ResourceType: &rt, ResourceId: &rid}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode())
	require.Len(t, res.JSON200.Items, 1, "every mutation exactly once")
	e := res.JSON200.Items[0]
	assert.Equal(t, "master.create", e.Action)
	assert.Equal(t, apiclient.AuditActorTypeOperator, e.Actor.Type)
	assert.NotEmpty(t, e.RequestId)

	limit := int32(2)
	first, err := env.Client.ListAuditWithResponse(ctx, &apiclient.ListAuditParams{Limit: &limit}, as)
	require.NoError(t, err)
	require.Len(t, first.JSON200.Items, 2)
	assert.Greater(t, first.JSON200.Items[0].Id, first.JSON200.Items[1].Id, "newest first")
	cur := first.JSON200.NextCursor.MustGet()
	second, err := env.Client.ListAuditWithResponse(ctx, &apiclient.ListAuditParams{Limit: &limit, Cursor: &cur}, as)
	require.NoError(t, err)
	require.NotEmpty(t, second.JSON200.Items)
	assert.Less(t, second.JSON200.Items[0].Id, first.JSON200.Items[1].Id)

	future := time.Now().Add(time.Hour)
	none, err := env.Client.ListAuditWithResponse(ctx, &apiclient.ListAuditParams{From: &future}, as)
	require.NoError(t, err)
	assert.Empty(t, none.JSON200.Items)
}
