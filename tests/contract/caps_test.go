package contract_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// capsFixture is a master with every cap set, the models it may use, and
// a helper to snapshot one key's stored row.
type capsFixture struct {
	env         *testenv.Env
	admin       string
	master      apiclient.Master
	masterToken string
}

func newCapsFixture(t *testing.T) capsFixture {
	t.Helper()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	ctx := context.Background()
	for _, name := range []string{"capped-model", "other-model"} {
		res, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: name}, testenv.WithToken(admin))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
	}
	for _, g := range []string{"default", "premium"} {
		// Both route groups exist, so "premium" is a real target for the attack.
		res, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{
			Name: "caps-" + g, Type: apiclient.ProviderTypeOpenai, Group: &g, Models: []string{"gpt-4o"}}, testenv.WithToken(admin))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
	}
	body := fmt.Sprintf(`{"name":"capped","max_rpm":100,"max_tpm":1000,"max_quota_tokens":1000,"max_budget_usd":5,
"budget_period":"monthly","max_key_ttl_seconds":%d,"allowed_models":["default.capped-model"]}`, 30*24*3600)
	res := rawJSON(t, env, http.MethodPost, "/admin/masters", admin, []byte(body))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	var created apiclient.MasterCreated
	require.NoError(t, json.NewDecoder(res.Body).Decode(&created))
	return capsFixture{env: env, admin: admin, master: created.Master, masterToken: created.Token}
}

func (f capsFixture) row(t *testing.T, id int64) string {
	t.Helper()
	var s string
	// The budget period's start and the usage counters belong to the log
	// maintenance job, which opens a new key's period in the background.
	require.NoError(t, f.env.DB.Get(&s,
		`SELECT (to_jsonb(k) - 'period_start' - 'used_usd' - 'used_tokens')::text FROM keys k WHERE id = $1`, id))
	return s
}

// operatorKey issues a key on the master's behalf with settings narrower
// than the caps.
func (f capsFixture) operatorKey(t *testing.T, name string) apiclient.Key {
	t.Helper()
	exp := time.Now().Add(10 * 24 * time.Hour).UTC().Format(time.RFC3339)
	body := fmt.Sprintf(`{"name":%q,"rpm_limit":50,"tpm_limit":500,"quota_tokens":500,"budget_usd":2,"budget_period":"monthly",
"expires_at":%q,"allowed_models":["default.capped-model"],"allowed_ips":["10.0.0.0/8"]}`, name, exp)
	res := rawJSON(t, f.env, http.MethodPost, fmt.Sprintf("/admin/masters/%d/keys", f.master.Id), f.admin, []byte(body))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	var kc apiclient.KeyCreated
	require.NoError(t, json.NewDecoder(res.Body).Decode(&kc))
	require.True(t, strings.HasPrefix(kc.Key.IssuedBy, "admin:"))
	return kc.Key
}

// TestTenantCannotLiftCaps reproduces each attack of issue 13 item 2 through
// the HTTP API: a master token must not widen what its master's caps or an
// operator allow, and a refused request changes nothing.
func TestTenantCannotLiftCaps(t *testing.T) {
	t.Parallel()
	f := newCapsFixture(t)
	key := f.operatorKey(t, "ops-issued")

	t.Run("master_shows_its_caps", func(t *testing.T) {
		l := f.master.Limits
		assert.Equal(t, int32(100), l.MaxRpm)
		assert.Equal(t, int32(1000), l.MaxTpm)
		assert.Equal(t, int64(1000), l.MaxQuotaTokens.MustGet())
		assert.Equal(t, 5.0, l.MaxBudgetUsd.MustGet())
		assert.Equal(t, apiclient.BudgetPeriodMonthly, l.BudgetPeriod)
		assert.Equal(t, []string{"default.capped-model"}, l.AllowedModels)
	})

	t.Run("patch_operator_issued_key", func(t *testing.T) {
		attacks := map[string]struct{ body, field string }{
			"drop_quota":           {`{"quota_tokens":null}`, "quota_tokens"},
			"drop_budget":          {`{"budget_usd":null}`, "budget_usd"},
			"raise_rpm_to_global":  {`{"rpm_limit":100000}`, "rpm_limit"},
			"raise_tpm_to_global":  {`{"tpm_limit":100000000}`, "tpm_limit"},
			"raise_rpm_within_cap": {`{"rpm_limit":80}`, "rpm_limit"},
			"clear_rpm_to_default": {`{"rpm_limit":null}`, "rpm_limit"},
			"raise_quota":          {`{"quota_tokens":900}`, "quota_tokens"},
			"widen_budget_period":  {`{"budget_period":"daily"}`, "budget_period"},
			"clear_allowed_models": {`{"allowed_models":[]}`, "allowed_models"},
			"add_a_model":          {`{"allowed_models":["default.capped-model","default.other-model"]}`, "allowed_models"},
			"expires_2099":         {`{"expires_at":"2099-01-01T00:00:00Z"}`, "expires_at"},
			"never_expire":         {`{"expires_at":null}`, "expires_at"},
			"group_premium":        {`{"group":"premium"}`, "group"},
			"open_allowed_ips":     {`{"allowed_ips":[]}`, "allowed_ips"},
			"widen_allowed_ips":    {`{"allowed_ips":["0.0.0.0/0"]}`, "allowed_ips"},
		}
		for name, a := range attacks {
			t.Run(name, func(t *testing.T) {
				before := f.row(t, key.Id)
				res := rawJSON(t, f.env, http.MethodPatch, fmt.Sprintf("/keys/%d", key.Id), f.masterToken, []byte(a.body))
				p := problemOf(t, res, http.StatusForbidden)
				require.NotNil(t, p.Errors)
				assert.Equal(t, a.field, (*p.Errors)[0].Field)
				assert.Equal(t, before, f.row(t, key.Id), "a refused request changes nothing")
			})
		}
	})

	t.Run("patch_operator_issued_key_narrowing_is_allowed", func(t *testing.T) {
		k := f.operatorKey(t, "narrowable")
		exp := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		body := fmt.Sprintf(`{"rpm_limit":10,"tpm_limit":100,"quota_tokens":100,"budget_usd":1,"expires_at":%q,
"allowed_ips":["10.1.0.0/16"],"name":"renamed"}`, exp)
		res := rawJSON(t, f.env, http.MethodPatch, fmt.Sprintf("/keys/%d", k.Id), f.masterToken, []byte(body))
		require.Equal(t, http.StatusOK, res.StatusCode)
		var got apiclient.Key
		require.NoError(t, json.NewDecoder(res.Body).Decode(&got))
		assert.Equal(t, int32(10), got.RpmLimit)
		assert.Equal(t, []string{"10.1.0.0/16"}, got.AllowedIps)

		res = rawJSON(t, f.env, http.MethodPatch, fmt.Sprintf("/keys/%d", k.Id), f.masterToken, []byte(`{"status":"disabled"}`))
		require.Equal(t, http.StatusOK, res.StatusCode)
		p := problemOf(t, rawJSON(t, f.env, http.MethodPatch, fmt.Sprintf("/keys/%d", k.Id), f.masterToken, []byte(`{"status":"active"}`)), http.StatusForbidden)
		require.NotNil(t, p.Errors)
		assert.Equal(t, "status", (*p.Errors)[0].Field)
		// The operator can re-enable it.
		res = rawJSON(t, f.env, http.MethodPatch, fmt.Sprintf("/keys/%d", k.Id), f.admin, []byte(`{"status":"active"}`))
		require.Equal(t, http.StatusOK, res.StatusCode)
		// Revoking stays the tenant's right.
		res = rawJSON(t, f.env, http.MethodDelete, fmt.Sprintf("/keys/%d", k.Id), f.masterToken, nil)
		require.Equal(t, http.StatusNoContent, res.StatusCode)
	})

	t.Run("self_service_create", func(t *testing.T) {
		attacks := map[string]struct{ body, field string }{
			"other_group_maximal_limits": {`{"name":"x","group":"premium","rpm_limit":100000,"tpm_limit":100000000}`, "group"},
			"rpm_beyond_cap":             {`{"name":"x","rpm_limit":101}`, "rpm_limit"},
			"tpm_beyond_cap":             {`{"name":"x","tpm_limit":1001}`, "tpm_limit"},
			"quota_beyond_cap":           {`{"name":"x","quota_tokens":1001}`, "quota_tokens"},
			"budget_beyond_cap":          {`{"name":"x","budget_usd":6,"budget_period":"monthly"}`, "budget_usd"},
			"budget_daily":               {`{"name":"x","budget_usd":5,"budget_period":"daily"}`, "budget_period"},
			"expires_2099":               {`{"name":"x","expires_at":"2099-01-01T00:00:00Z"}`, "expires_at"},
			"model_outside_cap":          {`{"name":"x","allowed_models":["default.other-model"]}`, "allowed_models"},
		}
		for name, a := range attacks {
			t.Run(name, func(t *testing.T) {
				var before int
				require.NoError(t, f.env.DB.Get(&before, `SELECT count(*) FROM keys WHERE master_id = $1`, f.master.Id))
				p := problemOf(t, rawJSON(t, f.env, http.MethodPost, "/keys", f.masterToken, []byte(a.body)), http.StatusForbidden)
				require.NotNil(t, p.Errors)
				assert.Equal(t, a.field, (*p.Errors)[0].Field)
				var after int
				require.NoError(t, f.env.DB.Get(&after, `SELECT count(*) FROM keys WHERE master_id = $1`, f.master.Id))
				assert.Equal(t, before, after)
			})
		}
	})

	t.Run("self_service_create_gets_the_caps_where_it_names_none", func(t *testing.T) {
		res := rawJSON(t, f.env, http.MethodPost, "/keys", f.masterToken, []byte(`{"name":"plain"}`))
		require.Equal(t, http.StatusCreated, res.StatusCode)
		var kc apiclient.KeyCreated
		require.NoError(t, json.NewDecoder(res.Body).Decode(&kc))
		k := kc.Key
		assert.Equal(t, "default", k.Group)
		assert.Equal(t, int64(1000), k.QuotaTokens.MustGet())
		assert.Equal(t, 5.0, k.BudgetUsd.MustGet())
		assert.Equal(t, apiclient.BudgetPeriodMonthly, k.BudgetPeriod)
		assert.Equal(t, []string{"default.capped-model"}, k.AllowedModels)
		exp := k.ExpiresAt.MustGet()
		assert.WithinDuration(t, time.Now().Add(30*24*time.Hour), exp, time.Hour)

		// A budget without a period takes the master's period.
		res = rawJSON(t, f.env, http.MethodPost, "/keys", f.masterToken, []byte(`{"name":"budgeted","budget_usd":3}`))
		require.Equal(t, http.StatusCreated, res.StatusCode)
		var budgeted apiclient.KeyCreated
		require.NoError(t, json.NewDecoder(res.Body).Decode(&budgeted))
		assert.Equal(t, apiclient.BudgetPeriodMonthly, budgeted.Key.BudgetPeriod)

		// Its own key: a tenant may move a limit anywhere inside the caps.
		res = rawJSON(t, f.env, http.MethodPatch, fmt.Sprintf("/keys/%d", k.Id), f.masterToken, []byte(`{"rpm_limit":100,"quota_tokens":1000}`))
		require.Equal(t, http.StatusOK, res.StatusCode)
		for body, field := range map[string]string{`{"quota_tokens":null}`: "quota_tokens", `{"expires_at":null}`: "expires_at",
			`{"rpm_limit":101}`: "rpm_limit", `{"group":"premium"}`: "group", `{"allowed_models":[]}`: "allowed_models"} {
			p := problemOf(t, rawJSON(t, f.env, http.MethodPatch, fmt.Sprintf("/keys/%d", k.Id), f.masterToken, []byte(body)), http.StatusForbidden)
			require.NotNil(t, p.Errors, body)
			assert.Equal(t, field, (*p.Errors)[0].Field, body)
		}
	})

	t.Run("operator_is_not_bound_by_tenant_rules", func(t *testing.T) {
		res := rawJSON(t, f.env, http.MethodPatch, fmt.Sprintf("/keys/%d", key.Id), f.admin, []byte(`{"rpm_limit":5000,"quota_tokens":null}`))
		require.Equal(t, http.StatusOK, res.StatusCode)
	})

	t.Run("master_defaults_must_fit_its_caps", func(t *testing.T) {
		p := problemOf(t, rawJSON(t, f.env, http.MethodPatch, fmt.Sprintf("/admin/masters/%d", f.master.Id), f.admin,
			[]byte(`{"default_rpm":101}`)), http.StatusUnprocessableEntity)
		require.NotNil(t, p.Errors)
		assert.Equal(t, "default_rpm", (*p.Errors)[0].Field)
	})
}

// TestEveryTenantKeyWriteIsCapChecked walks the spec: each operation a
// master may call that writes a key must be one TestTenantCannotLiftCaps
// attacks (createKey, updateKey) or one that cannot widen a key (rotate,
// revoke), so a new one cannot slip past the caps unnoticed.
func TestEveryTenantKeyWriteIsCapChecked(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{"createKey": true, "updateKey": true, "rotateKey": true, "revokeKey": true}
	spec, err := testenv.LoadSpec()
	require.NoError(t, err)
	for _, path := range spec.Paths.InMatchingOrder() {
		for _, op := range spec.Paths.Value(path).Operations() {
			if op.Extensions["x-permission"] != "keys:write" {
				continue
			}
			if strings.HasPrefix(path, "/admin/") {
				continue // operators only
			}
			assert.True(t, covered[op.OperationID], "%s writes keys for masters and is not covered by the caps attacks", op.OperationID)
		}
	}
}
