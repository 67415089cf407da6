package contract_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// meStatus is GET /auth/me's status for credential.
func meStatus(t *testing.T, env *testenv.Env, credential string) int {
	t.Helper()
	res, err := env.Client.GetMeWithResponse(context.Background(), testenv.WithToken(credential))
	require.NoError(t, err)
	return res.StatusCode()
}

// Tokens issued before a password change, a disable or "log out
// everywhere" stop working; a role change takes effect on the same token.
func TestEarlierTokensStopWorkingWhenCredentialsChange(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)
	patch := func(t *testing.T, id int64, body apiclient.UpdateOperatorJSONRequestBody) {
		t.Helper()
		res, err := env.Client.UpdateOperatorWithResponse(ctx, id, body, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	}

	t.Run("password_change", func(t *testing.T) {
		id, old := env.CreateOperator(t, admin, "sess-pw", apiclient.OperatorRoleViewer)
		require.Equal(t, http.StatusOK, meStatus(t, env, old))
		pw := "a brand new passphrase 1"
		patch(t, id, apiclient.UpdateOperatorJSONRequestBody{Password: &pw})
		assert.Equal(t, http.StatusUnauthorized, meStatus(t, env, old), "the token from before the change")
		fresh := env.Login(t, "sess-pw", pw)
		assert.Equal(t, http.StatusOK, meStatus(t, env, fresh), "a login after the change works")
	})

	t.Run("disable_then_enable", func(t *testing.T) {
		id, old := env.CreateOperator(t, admin, "sess-dis", apiclient.OperatorRoleViewer)
		disabled, active := apiclient.UpdateOperatorRequestStatusDisabled, apiclient.UpdateOperatorRequestStatusActive
		patch(t, id, apiclient.UpdateOperatorJSONRequestBody{Status: &disabled})
		assert.Equal(t, http.StatusUnauthorized, meStatus(t, env, old))
		patch(t, id, apiclient.UpdateOperatorJSONRequestBody{Status: &active})
		assert.Equal(t, http.StatusUnauthorized, meStatus(t, env, old), "re-enabling does not revive the old token")
	})

	t.Run("logout_everywhere", func(t *testing.T) {
		id, first := env.CreateOperator(t, admin, "sess-out", apiclient.OperatorRoleDeveloper)
		second := env.Login(t, "sess-out", "pw-sess-out-0123456789")
		res, err := env.Client.LogoutEverywhereWithResponse(ctx, testenv.WithToken(first))
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, res.StatusCode(), string(res.Body))
		assert.Equal(t, http.StatusUnauthorized, meStatus(t, env, first))
		assert.Equal(t, http.StatusUnauthorized, meStatus(t, env, second), "every session, not only the caller's")
		assert.Equal(t, http.StatusOK, meStatus(t, env, admin), "other operators keep theirs")
		var n int
		// Other tests of the package (the authorization matrix) log out their own operators too.
		require.NoError(t, env.DB.Get(&n, `SELECT count(*) FROM audit_log WHERE action = 'operator.revoke_sessions' AND resource_id = $1`,
			strconv.FormatInt(id, 10)))
		assert.Equal(t, 1, n)
	})

	t.Run("logout_everywhere_422_for_a_service_token", func(t *testing.T) {
		_, st := env.CreateServiceToken(t, admin, "sess-st", apiclient.ServiceTokenRoleViewer)
		res, err := env.Client.LogoutEverywhereWithResponse(ctx, testenv.WithToken(st))
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode())
	})

	t.Run("role_change_applies_at_once_to_the_same_token", func(t *testing.T) {
		id, tok := env.CreateOperator(t, admin, "sess-role", apiclient.OperatorRoleViewer)
		role := apiclient.OperatorRoleDeveloper
		patch(t, id, apiclient.UpdateOperatorJSONRequestBody{Role: &role})
		me, err := env.Client.GetMeWithResponse(ctx, testenv.WithToken(tok))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, me.StatusCode())
		assert.Equal(t, apiclient.RoleDeveloper, me.JSON200.Role)
	})
}

func login(t *testing.T, env *testenv.Env, username, password string) *apiclient.LoginResponse {
	t.Helper()
	res, err := env.Client.LoginWithResponse(context.Background(), apiclient.LoginJSONRequestBody{Username: username, Password: password})
	require.NoError(t, err)
	return res
}

// 40 concurrent wrong passwords for one user from one address: the attempt
// is reserved before the hash, so exactly the limit is checked.
func TestConcurrentGuessesCannotRaceTheThrottle(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	victim, _ := env.CreateOperator(t, env.AdminToken(t), "race-victim", apiclient.OperatorRoleViewer)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 40 {
		wg.Go(func() {
			res := login(t, env, "race-victim", "wrong-guess-"+strconv.Itoa(i))
			mu.Lock()
			codes[res.StatusCode()]++
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, env.Config.Auth.LoginMaxFailures, codes[http.StatusUnauthorized], "passwords checked: %v", codes)
	assert.Equal(t, 40-env.Config.Auth.LoginMaxFailures, codes[http.StatusTooManyRequests], "%v", codes)
	var checked int
	require.NoError(t, env.DB.Get(&checked, `SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed' AND resource_id = $1`, itoa(victim)))
	assert.Equal(t, env.Config.Auth.LoginMaxFailures, checked)
}

// With every password-check slot taken, a login answers 429 with
// Retry-After instead of queueing unbounded argon2id work.
func TestPasswordChecksAreBounded(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, func(c *app.Config) {
		c.Auth.Argon2.MaxConcurrent = 1
		c.Auth.Argon2.QueueTimeout = time.Millisecond
		c.Auth.LoginIPMaxFailures, c.Auth.LoginUserMaxFailures = 1000, 1000
	})
	env.BootstrapAdmin(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var busy []*apiclient.LoginResponse
	unauthorized := 0
	for i := range 24 {
		wg.Go(func() {
			res := login(t, env, "spray-"+strconv.Itoa(i), "wrong password")
			mu.Lock()
			defer mu.Unlock()
			switch res.StatusCode() {
			case http.StatusTooManyRequests:
				busy = append(busy, res)
			case http.StatusUnauthorized:
				unauthorized++
			default:
				t.Errorf("unexpected %d: %s", res.StatusCode(), res.Body)
			}
		})
	}
	wg.Wait()
	require.NotEmpty(t, busy, "24 concurrent logins through one slot with a 1ms queue: some are turned away")
	assert.Equal(t, "1", busy[0].HTTPResponse.Header.Get("Retry-After"))
	assert.Contains(t, *busy[0].ApplicationproblemJSON429.Detail, "too many logins in progress")
	assert.Positive(t, unauthorized)
	// A turned-away attempt was never checked, so it does not count as a
	// failure: the admin can still log in from here at once.
	assert.Equal(t, http.StatusOK, login(t, env, testenv.AdminUsername, testenv.AdminPassword).StatusCode())
}

// An attacker guessing from one address cannot lock the user out of
// another; a distributed guess still meets the per-user ceiling.
func TestLoginThrottleIsPerUserAndAddress(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, func(c *app.Config) {
		c.Server.TrustedProxies = []string{"127.0.0.1/32"}
		c.Auth.LoginUserMaxFailures = 12
	})
	env.BootstrapAdmin(t)
	from := func(ip string) apiclient.RequestEditorFn {
		return func(_ context.Context, r *http.Request) error {
			r.Header.Set("X-Forwarded-For", ip)
			return nil
		}
	}
	try := func(ip, password string) *apiclient.LoginResponse {
		res, err := env.Client.LoginWithResponse(context.Background(),
			apiclient.LoginJSONRequestBody{Username: testenv.AdminUsername, Password: password}, from(ip))
		require.NoError(t, err)
		return res
	}
	for i := range env.Config.Auth.LoginMaxFailures {
		require.Equal(t, http.StatusUnauthorized, try("198.51.100.66", "guess-"+strconv.Itoa(i)).StatusCode())
	}
	assert.Equal(t, http.StatusTooManyRequests, try("198.51.100.66", testenv.AdminPassword).StatusCode(), "the attacker's address is locked out")
	assert.Equal(t, http.StatusOK, try("203.0.113.7", testenv.AdminPassword).StatusCode(), "the admin, from elsewhere, is not")

	// Distributed guessing: 12 failures from many addresses reach the
	// per-user ceiling, which then holds for every address.
	for i := range 12 {
		try("192.0.2."+strconv.Itoa(i+1), "spread-guess")
	}
	res := try("203.0.113.7", testenv.AdminPassword)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode(), "the per-user ceiling holds for everyone")
	retry, err := strconv.Atoi(res.HTTPResponse.Header.Get("Retry-After"))
	require.NoError(t, err)
	assert.InDelta(t, env.Config.Auth.LoginWindow.Seconds(), retry, 2, "first trip: one window")
}
