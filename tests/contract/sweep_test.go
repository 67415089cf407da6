package contract_test

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

type sweepOp struct {
	method, path, id string
	perm             domain.Permission
	hasBody          bool
	hasLimit         bool
}

func sweepOps(t *testing.T) []sweepOp {
	t.Helper()
	spec, err := testenv.LoadSpec()
	require.NoError(t, err)
	var ops []sweepOp
	for _, path := range spec.Paths.InMatchingOrder() {
		for method, op := range spec.Paths.Value(path).Operations() {
			o := sweepOp{method: method, path: path, id: op.OperationID,
				perm: domain.Permission(op.Extensions["x-permission"].(string)), hasBody: op.RequestBody != nil}
			for _, p := range op.Parameters {
				if p.Value.Name == "limit" {
					o.hasLimit = true
				}
			}
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].id < ops[j].id })
	return ops
}

// credentialFor picks a principal the design allows to call op.
func credentialFor(o sweepOp, admin, balancer string) string {
	if o.perm == domain.PermissionPublic {
		return ""
	}
	if o.id == "logoutEverywhere" {
		// As an operator it would end the sweep's own session (and every
		// other test's admin session); a service token gets its 422.
		return balancer
	}
	if domain.RoleAdmin.Allows(o.perm) {
		return admin
	}
	return balancer
}

func call(t *testing.T, env *testenv.Env, method, url, cred string, body []byte) int {
	t.Helper()
	var rdr *bytes.Reader
	if body != nil {
		rdr = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, nil)
	if rdr != nil {
		req, err = http.NewRequest(method, url, rdr)
		req.Header.Set("Content-Type", "application/json")
	}
	require.NoError(t, err)
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	res, err := env.HTTP.Do(req) // the contract checker sees every answer
	require.NoError(t, err)
	_ = res.Body.Close()
	return res.StatusCode
}

// Every operation is rate limited like any other: with a budget of one call
// per endpoint, the second call of each operation is a documented 429.
func TestEveryOperationIsRateLimited(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, func(c *app.Config) {
		c.RateLimit.Enabled = true
		c.RateLimit.Rules = []app.RuleConfig{{Name: "sweep", Scope: "endpoint", Algorithm: "sliding_window", Limit: 1, Window: time.Hour}}
		c.Sync.ResyncTimeout = 5 * time.Second
	})
	admin := env.AdminToken(t) // spends the login endpoint's one call
	_, balancer := env.CreateServiceToken(t, admin, "sweep-balancer", apiclient.ServiceTokenRoleBalancer)
	for _, o := range sweepOps(t) {
		url := env.BaseURL + pathParam.ReplaceAllString(o.path, "987654321")
		if o.perm == domain.PermissionPublic && o.id == "login" {
			// Already called once by AdminToken.
			assert.Equal(t, http.StatusTooManyRequests, call(t, env, o.method, url, "", []byte(`{"username":"x","password":"y"}`)), o.id)
			continue
		}
		cred := credentialFor(o, admin, balancer)
		var body []byte
		if o.hasBody {
			body = []byte(`{}`)
		}
		if strings.HasPrefix(o.id, "list") && strings.HasSuffix(o.path, "logs") {
			url += "?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"
		}
		if o.id == "getUsageStats" {
			url += "?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&group_by=model"
		}
		first := call(t, env, o.method, url, cred, body)
		if first == http.StatusTooManyRequests && (o.id == "createServiceToken" || o.id == "getMe") {
			continue // spent by the set-up above
		}
		second := call(t, env, o.method, url, cred, body)
		if o.id == "getLivez" || o.id == "getReadyz" || o.id == "getHealth" {
			// Probes are exempt from rules that do not name them.
			assert.NotEqual(t, http.StatusTooManyRequests, second, "%s: probes are not limited by general rules", o.id)
			continue
		}
		assert.Equal(t, http.StatusTooManyRequests, second, "%s: second call within the budget window", o.id)
	}
}

// Malformed ids and list parameters are contract violations: 400, before
// anything looks for the object.
func TestMalformedParametersAre400(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	_, balancer := env.CreateServiceToken(t, admin, "param-balancer", apiclient.ServiceTokenRoleBalancer)
	for _, o := range sweepOps(t) {
		cred := credentialFor(o, admin, balancer)
		var body []byte
		if o.hasBody {
			body = []byte(`{}`)
		}
		if strings.Contains(o.path, "{id}") {
			url := env.BaseURL + pathParam.ReplaceAllString(o.path, "0")
			assert.Equal(t, http.StatusBadRequest, call(t, env, o.method, url, cred, body), "%s with id 0", o.id)
		}
		if o.hasLimit && !strings.Contains(o.path, "{id}") {
			url := env.BaseURL + o.path + "?limit=0"
			if o.id == "listLogs" {
				url += "&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"
			}
			assert.Equal(t, http.StatusBadRequest, call(t, env, o.method, url, cred, body), "%s with limit 0", o.id)
		}
	}
}

func TestRemainingDocumentedOutcomes(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)
	_, balancer := env.CreateServiceToken(t, admin, "rest-balancer", apiclient.ServiceTokenRoleBalancer)

	t.Run("balancerHeartbeat204", func(t *testing.T) {
		v := "1.2.3"
		res, err := env.Client.BalancerHeartbeatWithResponse(ctx, apiclient.BalancerHeartbeatJSONRequestBody{
			InstanceId: "sweep-1", SnapshotVersion: 1, Version: &v}, testenv.WithToken(balancer))
		require.NoError(t, err)
		assert.Equal(t, http.StatusNoContent, res.StatusCode())
	})

	m1, _ := createMasterAPI(t, env, admin, apiclient.CreateMasterJSONRequestBody{Name: "rest-one"})
	createMasterAPI(t, env, admin, apiclient.CreateMasterJSONRequestBody{Name: "rest-two"})
	t.Run("updateMaster404_and_409", func(t *testing.T) {
		name := "rest-two"
		res, err := env.Client.UpdateMasterWithResponse(ctx, m1.Id, apiclient.UpdateMasterJSONRequestBody{Name: &name}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusConflict, res.StatusCode())
		st := apiclient.MasterStatusSuspended
		res, err = env.Client.UpdateMasterWithResponse(ctx, 987654, apiclient.UpdateMasterJSONRequestBody{Status: &st}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, res.StatusCode())
	})

	t.Run("issueMasterKey422_and_updateKey422", func(t *testing.T) {
		past := time.Now().Add(-time.Hour)
		res, err := env.Client.IssueMasterKeyWithResponse(ctx, m1.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "late", ExpiresAt: &past}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode())
		k, err := env.Client.IssueMasterKeyWithResponse(ctx, m1.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "ok"}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, k.StatusCode())
		upd, err := env.Client.UpdateKeyWithBodyWithResponse(ctx, k.JSON201.Key.Id, "application/json",
			strings.NewReader(`{"expires_at":"2001-01-01T00:00:00Z"}`), as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnprocessableEntity, upd.StatusCode())
	})

	t.Run("getUsageStats422", func(t *testing.T) {
		now := time.Now()
		res, err := env.Client.GetUsageStatsWithResponse(ctx, &apiclient.GetUsageStatsParams{From: now, To: now.Add(-time.Hour),
			GroupBy: apiclient.GetUsageStatsParamsGroupByModel}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode())
	})
}
