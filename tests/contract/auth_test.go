package contract_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t) // its own server: the failure throttle is per server
	env.BootstrapAdmin(t)
	ctx := context.Background()

	t.Run("login200_then_me200", func(t *testing.T) {
		res, err := env.Client.LoginWithResponse(ctx, apiclient.LoginJSONRequestBody{Username: testenv.AdminUsername, Password: testenv.AdminPassword})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		assert.Equal(t, apiclient.AccessTokenResponseTokenTypeBearer, res.JSON200.TokenType)
		assert.WithinDuration(t, time.Now().Add(env.Config.Auth.JWTTTL), res.JSON200.ExpiresAt, time.Minute)

		me, err := env.Client.GetMeWithResponse(ctx, testenv.WithToken(res.JSON200.AccessToken))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, me.StatusCode())
		assert.Equal(t, apiclient.PrincipalKindOperator, me.JSON200.Kind)
		assert.Equal(t, apiclient.RoleAdmin, me.JSON200.Role)
		assert.Equal(t, testenv.AdminUsername, me.JSON200.Name)

		// The X-API-Key header works as well as Authorization: Bearer.
		me, err = env.Client.GetMeWithResponse(ctx, func(_ context.Context, r *http.Request) error {
			r.Header.Set("X-API-Key", res.JSON200.AccessToken)
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, me.StatusCode())
	})

	t.Run("login401_same_answer_for_unknown_user_and_wrong_password", func(t *testing.T) {
		wrong, err := env.Client.LoginWithResponse(ctx, apiclient.LoginJSONRequestBody{Username: testenv.AdminUsername, Password: "not the password"})
		require.NoError(t, err)
		unknown, err := env.Client.LoginWithResponse(ctx, apiclient.LoginJSONRequestBody{Username: "nobody-here", Password: "not the password"})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, wrong.StatusCode())
		require.Equal(t, http.StatusUnauthorized, unknown.StatusCode())
		assert.Equal(t, *wrong.ApplicationproblemJSON401.Detail, *unknown.ApplicationproblemJSON401.Detail)
		assert.Equal(t, wrong.ApplicationproblemJSON401.Type, unknown.ApplicationproblemJSON401.Type)
	})

	t.Run("login400_unknown_field", func(t *testing.T) {
		res, err := env.HTTP.Post(env.BaseURL+"/auth/login", "application/json",
			strings.NewReader(`{"username":"a","password":"b","role":"admin"}`))
		require.NoError(t, err)
		p := problemOf(t, res, http.StatusBadRequest)
		require.NotNil(t, p.Errors)
	})
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	env.BootstrapAdmin(t)
	ctx := context.Background()
	for i := range env.Config.Auth.LoginMaxFailures {
		res, err := env.Client.LoginWithResponse(ctx, apiclient.LoginJSONRequestBody{Username: "victim", Password: "guess-" + strconv.Itoa(i)})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode())
	}
	res, err := env.Client.LoginWithResponse(ctx, apiclient.LoginJSONRequestBody{Username: "victim", Password: "guess-6"})
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode())
	retry, err := strconv.Atoi(res.HTTPResponse.Header.Get("Retry-After"))
	require.NoError(t, err)
	// Until the oldest failure leaves the one-minute window (the five
	// attempts themselves take a while on a busy machine).
	assert.LessOrEqual(t, retry, 60)
	assert.Positive(t, retry)
	// The limit is per (username, address): another user from here is not
	// locked out (TestLoginThrottleIsPerUserAndAddress covers the rest).
	res, err = env.Client.LoginWithResponse(ctx, apiclient.LoginJSONRequestBody{Username: testenv.AdminUsername, Password: testenv.AdminPassword})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode())
}

// forge signs claims with method and key, for the bad-token cases.
func forge(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

func TestBadCredentialsAreOneIdentical401(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	ctx := context.Background()
	secret := []byte(env.Config.Auth.JWTSecret)
	now := time.Now()
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": env.Config.Auth.JWTIssuer, "aud": env.Config.Auth.JWTAudience, "sub": "1",
			"role": "admin", "jti": "x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	with := func(k string, v any) jwt.MapClaims { c := valid(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := valid(); delete(c, k); return c }
	b64 := base64.RawURLEncoding.EncodeToString
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"1","iss":"ezapi","aud":"ezapi-api","exp":99999999999}`)) + "."

	_, stSecret := env.CreateServiceToken(t, admin, "bad-input", apiclient.ServiceTokenRoleViewer)
	revokedID, revoked := env.CreateServiceToken(t, admin, "revoked", apiclient.ServiceTokenRoleViewer)
	res, err := env.Client.RevokeServiceTokenWithResponse(ctx, revokedID, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, res.StatusCode())
	var expired string
	{
		past := time.Now().Add(-time.Hour)
		tok, err := domain.NewToken(domain.TokenService)
		require.NoError(t, err)
		_, err = env.DB.Exec(`INSERT INTO service_tokens (name, role, token_hash, prefix, expires_at) VALUES ('expired','viewer',$1,$2,$3)`, tok.Hash, tok.Prefix, past)
		require.NoError(t, err)
		expired = tok.Plaintext
	}

	cases := map[string]string{
		"alg_none":                  algNone,
		"other_algorithm":           forge(t, jwt.SigningMethodHS512, secret, valid()),
		"wrong_secret":              forge(t, jwt.SigningMethodHS256, []byte("another secret entirely........"), valid()),
		"expired":                   forge(t, jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Minute).Unix())),
		"not_yet_valid":             forge(t, jwt.SigningMethodHS256, secret, with("nbf", now.Add(time.Hour).Unix())),
		"missing_exp":               forge(t, jwt.SigningMethodHS256, secret, without("exp")),
		"wrong_issuer":              forge(t, jwt.SigningMethodHS256, secret, with("iss", "someone-else")),
		"wrong_audience":            forge(t, jwt.SigningMethodHS256, secret, with("aud", "another-api")),
		"unknown_operator":          forge(t, jwt.SigningMethodHS256, secret, with("sub", "987654")),
		"right_prefix_wrong_secret": "st-" + strings.Repeat("A", 43),
		"truncated_token":           stSecret[:len(stSecret)-3],
		// HTTP strips trailing whitespace from header values (RFC 9110 §5.5), so
		// the whitespace that reaches the server is inside the value; the
		// header parser's own test covers a raw trailing space.
		"inner_whitespace":      stSecret + " x",
		"inner_tab":             stSecret + "	.",
		"revoked_service_token": revoked,
		"expired_service_token": expired,
		"unknown_kind":          "zz-abcdef",
		"garbage":               "not a credential at all",
	}
	var first *apiclient.Problem
	for name, cred := range cases {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, env.BaseURL+"/auth/me", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+cred)
			res, err := env.HTTP.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			p := problemOf(t, res, http.StatusUnauthorized)
			assert.Equal(t, `Bearer realm="ezapi"`, res.Header.Get("WWW-Authenticate"))
			if first == nil {
				first = &p
			}
			assert.Equal(t, *first.Detail, *p.Detail)
			assert.Equal(t, first.Type, p.Type)
			assert.Equal(t, first.Title, p.Title)
		})
	}

	t.Run("huge_headers", func(t *testing.T) {
		for _, cred := range []string{strings.Repeat(".", 100_000), strings.Repeat("a", 64<<10)} {
			req, err := http.NewRequest(http.MethodGet, env.BaseURL+"/auth/me", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+cred)
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			assert.Contains(t, []int{http.StatusUnauthorized, http.StatusRequestHeaderFieldsTooLarge}, res.StatusCode)
		}
	})

	t.Run("missing_or_malformed_header", func(t *testing.T) {
		for _, h := range []string{"", "Bearer", "Bearer ", "Basic YWRtaW46cGFzcw==", "Token " + stSecret} {
			req, err := http.NewRequest(http.MethodGet, env.BaseURL+"/auth/me", nil)
			require.NoError(t, err)
			if h != "" {
				req.Header.Set("Authorization", h)
			}
			res, err := env.HTTP.Do(req)
			require.NoError(t, err)
			p := problemOf(t, res, http.StatusUnauthorized)
			_ = res.Body.Close()
			assert.Equal(t, *first.Detail, *p.Detail)
		}
	})
}

func TestRevocationTakesEffectWithinOneSecond(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	// A second replica against the same database keeps its own auth cache.
	replica := testenv.Start(t)
	ctx := context.Background()
	me := func(e *testenv.Env, cred string) int {
		res, err := e.Client.GetMeWithResponse(ctx, testenv.WithToken(cred))
		require.NoError(t, err)
		return res.StatusCode()
	}

	t.Run("revoked_service_token", func(t *testing.T) {
		id, tok := env.CreateServiceToken(t, admin, "to-revoke", apiclient.ServiceTokenRoleViewer)
		require.Equal(t, http.StatusOK, me(env, tok))
		require.Equal(t, http.StatusOK, me(replica, tok)) // now cached on the replica
		res, err := env.Client.RevokeServiceTokenWithResponse(ctx, id, testenv.WithToken(admin))
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, res.StatusCode())
		assert.Equal(t, http.StatusUnauthorized, me(env, tok), "at once on the replica that revoked it")
		assert.Eventually(t, func() bool { return me(replica, tok) == http.StatusUnauthorized },
			env.Config.Auth.CacheTTL+time.Second, 50*time.Millisecond, "within the cache TTL elsewhere")
	})

	t.Run("disabled_operator_jwt", func(t *testing.T) {
		id, tok := env.CreateOperator(t, admin, "soon-disabled", apiclient.OperatorRoleViewer)
		require.Equal(t, http.StatusOK, me(env, tok))
		disabled := apiclient.UpdateOperatorRequestStatusDisabled
		res, err := env.Client.UpdateOperatorWithResponse(ctx, id, apiclient.UpdateOperatorJSONRequestBody{Status: &disabled}, testenv.WithToken(admin))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		assert.Equal(t, http.StatusUnauthorized, me(env, tok))
		assert.Eventually(t, func() bool { return me(replica, tok) == http.StatusUnauthorized },
			env.Config.Auth.CacheTTL+time.Second, 50*time.Millisecond)
	})
}

func TestMasterTokenAuthenticatesATenant(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	id, tok := env.CreateMaster(t, "tenant-me")
	res, err := env.Client.GetMeWithResponse(context.Background(), testenv.WithToken(tok))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode())
	assert.Equal(t, apiclient.PrincipalKindMaster, res.JSON200.Kind)
	assert.Equal(t, apiclient.RoleUser, res.JSON200.Role)
	assert.Equal(t, id, res.JSON200.MasterId.MustGet())

	_, err = env.DB.Exec(`UPDATE masters SET status = 'suspended' WHERE id = $1`, id)
	require.NoError(t, err)
	assert.Eventually(t, func() bool {
		r, err := env.Client.GetMeWithResponse(context.Background(), testenv.WithToken(tok))
		return err == nil && r.StatusCode() == http.StatusUnauthorized
	}, env.Config.Auth.CacheTTL+time.Second, 50*time.Millisecond, "a suspended master's token stops working")
}
