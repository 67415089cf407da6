package contract_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

func TestOperators(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)

	var devID int64
	t.Run("createOperator201", func(t *testing.T) {
		res, err := env.Client.CreateOperatorWithResponse(ctx, apiclient.CreateOperatorJSONRequestBody{
			Username: "ops-dev", Password: "a long enough passphrase", Role: apiclient.OperatorRoleDeveloper}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		assert.Equal(t, "ops-dev", res.JSON201.Username)
		assert.Equal(t, apiclient.OperatorStatusActive, res.JSON201.Status)
		assert.NotContains(t, string(res.Body), "password")
		devID = res.JSON201.Id
	})

	t.Run("createOperator409_username_taken_any_case", func(t *testing.T) {
		res, err := env.Client.CreateOperatorWithResponse(ctx, apiclient.CreateOperatorJSONRequestBody{
			Username: "OPS-dev", Password: "a long enough passphrase", Role: apiclient.OperatorRoleViewer}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusConflict, res.StatusCode())
	})

	t.Run("createOperator400_bad_input_changes_nothing", func(t *testing.T) {
		var before int
		require.NoError(t, env.DB.Get(&before, `SELECT count(*) FROM operators`))
		for name, body := range map[string]string{
			"short_password": `{"username":"x-user","password":"short","role":"viewer"}`,
			"unknown_role":   `{"username":"x-user","password":"a long enough passphrase","role":"root"}`,
			"unknown_field":  `{"username":"x-user","password":"a long enough passphrase","role":"viewer","status":"active"}`,
			"bad_username":   `{"username":"../etc","password":"a long enough passphrase","role":"viewer"}`,
			"not_json":       `{"username":`,
		} {
			req, _ := http.NewRequest(http.MethodPost, env.BaseURL+"/admin/operators", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+admin)
			res, err := env.HTTP.Do(req)
			require.NoError(t, err, name)
			problemOf(t, res, http.StatusBadRequest)
			_ = res.Body.Close()
		}
		var after int
		require.NoError(t, env.DB.Get(&after, `SELECT count(*) FROM operators`))
		assert.Equal(t, before, after)
	})

	t.Run("listOperators200_paginates", func(t *testing.T) {
		seen := map[int64]bool{}
		var cursor *string
		for range 500 { // other tests of the package create operators too
			limit := int32(1)
			res, err := env.Client.ListOperatorsWithResponse(ctx, &apiclient.ListOperatorsParams{Limit: &limit, Cursor: cursor}, as)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode())
			for _, op := range res.JSON200.Items {
				assert.False(t, seen[op.Id], "no repeats across pages")
				seen[op.Id] = true
			}
			if res.JSON200.NextCursor.IsNull() {
				break
			}
			next := res.JSON200.NextCursor.MustGet()
			cursor = &next
		}
		assert.True(t, seen[devID])
		assert.GreaterOrEqual(t, len(seen), 2)
	})

	t.Run("listOperators400_bad_cursor", func(t *testing.T) {
		bad := "bm90LWEtY3Vyc29y"
		res, err := env.Client.ListOperatorsWithResponse(ctx, &apiclient.ListOperatorsParams{Cursor: &bad}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode())
		limit := int32(501)
		res, err = env.Client.ListOperatorsWithResponse(ctx, &apiclient.ListOperatorsParams{Limit: &limit}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode())
	})

	t.Run("getOperator200_and_404", func(t *testing.T) {
		res, err := env.Client.GetOperatorWithResponse(ctx, devID, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		res, err = env.Client.GetOperatorWithResponse(ctx, 987654, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, res.StatusCode())
	})

	t.Run("updateOperator200_changes_password_and_role", func(t *testing.T) {
		pw := "a brand new passphrase"
		role := apiclient.OperatorRoleViewer
		res, err := env.Client.UpdateOperatorWithResponse(ctx, devID, apiclient.UpdateOperatorJSONRequestBody{Password: &pw, Role: &role}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		assert.Equal(t, apiclient.OperatorRoleViewer, res.JSON200.Role)
		env.Login(t, "ops-dev", pw)
	})

	t.Run("updateOperator400_empty_patch", func(t *testing.T) {
		res, err := env.Client.UpdateOperatorWithResponse(ctx, devID, apiclient.UpdateOperatorJSONRequestBody{}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode())
	})

	t.Run("updateOperator404", func(t *testing.T) {
		st := apiclient.UpdateOperatorRequestStatusDisabled
		res, err := env.Client.UpdateOperatorWithResponse(ctx, 987654, apiclient.UpdateOperatorJSONRequestBody{Status: &st}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, res.StatusCode())
	})

	t.Run("deleteOperator204_and_404", func(t *testing.T) {
		res, err := env.Client.DeleteOperatorWithResponse(ctx, devID, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, res.StatusCode())
		res, err = env.Client.DeleteOperatorWithResponse(ctx, devID, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, res.StatusCode())
	})

	t.Run("audit_records_mutations_without_secrets", func(t *testing.T) {
		var rows []struct {
			Action    string  `db:"action"`
			ActorType string  `db:"actor_type"`
			Changes   *string `db:"changes"`
			RequestID string  `db:"request_id"`
			ClientIP  string  `db:"client_ip"`
		}
		require.NoError(t, env.DB.Select(&rows, `SELECT action, actor_type, changes::text AS changes, request_id, client_ip
FROM audit_log WHERE resource_type = 'operator' AND resource_id = $1 ORDER BY id`, itoa(devID)))
		var actions []string
		for _, r := range rows {
			actions = append(actions, r.Action)
			assert.Equal(t, "operator", r.ActorType)
			assert.NotEmpty(t, r.RequestID)
			assert.Equal(t, "127.0.0.1", r.ClientIP)
			if r.Changes != nil {
				assert.NotContains(t, *r.Changes, "passphrase")
				assert.NotContains(t, *r.Changes, "argon2")
			}
		}
		assert.Equal(t, []string{"operator.create", "operator.update", "auth.login", "operator.delete"}, actions)
	})
}

func TestLastActiveAdminIsProtected(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)
	me, err := env.Client.GetMeWithResponse(ctx, as)
	require.NoError(t, err)
	var adminID int64
	require.NoError(t, env.DB.Get(&adminID, `SELECT id FROM operators WHERE username = $1`, testenv.AdminUsername))
	require.Equal(t, adminID, me.JSON200.Id)

	// Other admins may exist in this package's database; leave only ours active.
	_, err = env.DB.Exec(`UPDATE operators SET status = 'disabled' WHERE role = 'admin' AND id <> $1`, adminID)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = env.DB.Exec(`UPDATE operators SET status = 'active' WHERE role = 'admin'`)
	})

	disabled := apiclient.UpdateOperatorRequestStatusDisabled
	viewer := apiclient.OperatorRoleViewer
	for name, body := range map[string]apiclient.UpdateOperatorJSONRequestBody{
		"disable": {Status: &disabled},
		"demote":  {Role: &viewer},
	} {
		res, err := env.Client.UpdateOperatorWithResponse(ctx, adminID, body, as)
		require.NoError(t, err, name)
		require.Equal(t, http.StatusConflict, res.StatusCode(), name)
		assert.Contains(t, *res.ApplicationproblemJSON409.Detail, "last active admin")
	}
	del, err := env.Client.DeleteOperatorWithResponse(ctx, adminID, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, del.StatusCode())

	var status string
	require.NoError(t, env.DB.Get(&status, `SELECT status FROM operators WHERE id = $1`, adminID))
	assert.Equal(t, "active", status, "nothing changed")
}

func TestServiceTokens(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, func(c *app.Config) { c.Auth.LastUsedFlush = 50 * time.Millisecond })
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)

	res, err := env.Client.CreateServiceTokenWithResponse(ctx, apiclient.CreateServiceTokenJSONRequestBody{
		Name: "ci-bot", Role: apiclient.ServiceTokenRoleDeveloper}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode())
	tok := res.JSON201.Token
	created := res.JSON201.ServiceToken
	assert.True(t, strings.HasPrefix(tok, "st-"))
	assert.True(t, strings.HasPrefix(tok, created.Prefix))
	assert.Equal(t, apiclient.ServiceTokenStatusActive, created.Status)

	t.Run("only_the_sha256_is_stored", func(t *testing.T) {
		var hash string
		require.NoError(t, env.DB.Get(&hash, `SELECT token_hash FROM service_tokens WHERE id = $1`, created.Id))
		assert.Equal(t, sha256hex(tok), hash)
	})

	t.Run("listServiceTokens200_never_shows_the_token", func(t *testing.T) {
		list, err := env.Client.ListServiceTokensWithResponse(ctx, &apiclient.ListServiceTokensParams{}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, list.StatusCode())
		assert.NotContains(t, string(list.Body), tok)
		raw, _ := json.Marshal(list.JSON200)
		assert.Contains(t, string(raw), created.Prefix)
	})

	t.Run("last_used_at_is_batched_in", func(t *testing.T) {
		me, err := env.Client.GetMeWithResponse(ctx, testenv.WithToken(tok))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, me.StatusCode())
		assert.Equal(t, apiclient.PrincipalKindServiceToken, me.JSON200.Kind)
		assert.Eventually(t, func() bool {
			var used *time.Time
			return env.DB.Get(&used, `SELECT last_used_at FROM service_tokens WHERE id = $1`, created.Id) == nil && used != nil
		}, 5*time.Second, 20*time.Millisecond)
	})

	t.Run("createServiceToken422_expiry_in_the_past", func(t *testing.T) {
		past := time.Now().Add(-time.Hour)
		r, err := env.Client.CreateServiceTokenWithResponse(ctx, apiclient.CreateServiceTokenJSONRequestBody{
			Name: "late", Role: apiclient.ServiceTokenRoleViewer, ExpiresAt: &past}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusUnprocessableEntity, r.StatusCode())
		require.NotNil(t, r.ApplicationproblemJSON422.Errors)
		assert.Equal(t, "expires_at", (*r.ApplicationproblemJSON422.Errors)[0].Field)
	})

	t.Run("revokeServiceToken204_then_404_for_unknown", func(t *testing.T) {
		r, err := env.Client.RevokeServiceTokenWithResponse(ctx, created.Id, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, r.StatusCode())
		r, err = env.Client.RevokeServiceTokenWithResponse(ctx, 987654, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, r.StatusCode())
		me, err := env.Client.GetMeWithResponse(ctx, testenv.WithToken(tok))
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, me.StatusCode())
	})
}
