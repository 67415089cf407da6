package edge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
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

// send makes a request through the contract-checking client.
func send(t *testing.T, env *testenv.Env, method, path, token, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, env.BaseURL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := env.HTTP.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, b
}

type problem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func problemField(t *testing.T, res *http.Response, body []byte, status int) problem {
	t.Helper()
	require.Equal(t, status, res.StatusCode, string(body))
	assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	var p problem
	require.NoError(t, json.Unmarshal(body, &p), string(body))
	require.NotEmpty(t, p.Errors, string(body))
	return p
}

func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := func(env *testenv.Env, origin string) *http.Response {
		h := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}}
		req, _ := http.NewRequest(http.MethodOptions, env.BaseURL+"/providers", nil)
		for k, v := range h {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		return res
	}
	t.Run("no_origins_configured_sends_no_cors_headers", func(t *testing.T) {
		t.Parallel()
		env := testenv.Start(t, func(c *app.Config) { c.Server.CORS.AllowOrigins, c.Server.CORS.AllowCredentials = nil, true })
		res := get(t, env, "/version", http.Header{"Origin": {"https://evil.example"}})
		assert.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
		assert.Empty(t, res.Header.Get("Access-Control-Allow-Credentials"))
		res = preflight(env, "https://evil.example")
		assert.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
		assert.Empty(t, res.Header.Get("Access-Control-Allow-Methods"))
	})
	t.Run("configured_origin_only", func(t *testing.T) {
		t.Parallel()
		env := testenv.Start(t, func(c *app.Config) {
			c.Server.CORS.AllowOrigins, c.Server.CORS.AllowCredentials = []string{"https://console.example"}, true
		})
		res := get(t, env, "/version", http.Header{"Origin": {"https://console.example"}})
		assert.Equal(t, "https://console.example", res.Header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "true", res.Header.Get("Access-Control-Allow-Credentials"))
		res = get(t, env, "/version", http.Header{"Origin": {"https://evil.example"}})
		assert.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
	})
	t.Run("wildcard_with_credentials_refused_at_start", func(t *testing.T) {
		t.Parallel()
		cfg, err := app.LoadConfig(testenv.Environ())
		require.NoError(t, err)
		cfg.Server.CORS.AllowOrigins, cfg.Server.CORS.AllowCredentials = []string{"*"}, true
		_, err = app.LoadConfig(testenv.Environ("EZ_SERVER__CORS__ALLOW_ORIGINS=*", "EZ_SERVER__CORS__ALLOW_CREDENTIALS=true"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "allow_credentials cannot be combined")
		_, cleanup, err := app.InitializeServer(cfg, io.Discard)
		if cleanup != nil {
			defer cleanup()
		}
		require.Error(t, err, "the server refuses it even when the config check is bypassed")
	})
}

func TestSecretBearingResponsesAreNotStoredNorSniffed(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	env.BootstrapAdmin(t)
	res, body := send(t, env, http.MethodPost, "/auth/login", "",
		`{"username":"`+testenv.AdminUsername+`","password":"`+testenv.AdminPassword+`"}`, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(body, &tok))
	res, body = send(t, env, http.MethodPost, "/admin/service-tokens", tok.AccessToken, `{"name":"hdr","role":"viewer"}`, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(body))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	res, _ = send(t, env, http.MethodGet, "/no-such-route", "", "", nil)
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), "errors too")
}

func TestStrictJSONBodies(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	count := func() int {
		var n int
		require.NoError(t, env.DB.Get(&n, `SELECT count(*) FROM operators`))
		return n
	}
	before := count()
	cases := []struct {
		name, body, field string
	}{
		{"trailing_object", `{"username":"strict-a","password":"a long enough passphrase","role":"viewer"} {"username":"strict-b","password":"a long enough passphrase","role":"admin"}`, "body"},
		{"trailing_garbage", `{"username":"strict-a","password":"a long enough passphrase","role":"viewer"}x`, "body"},
		{"duplicate_key", `{"username":"strict-a","password":"a long enough passphrase","role":"viewer","role":"admin"}`, "role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := send(t, env, http.MethodPost, "/admin/operators", admin, tc.body, nil)
			p := problemField(t, res, body, http.StatusBadRequest)
			assert.Equal(t, tc.field, p.Errors[0].Field)
		})
	}
	t.Run("nested_duplicate_names_the_path", func(t *testing.T) {
		res, body := send(t, env, http.MethodPut, "/admin/features", admin, `{"a":"1","b":"2","a":"3"}`, nil)
		p := problemField(t, res, body, http.StatusBadRequest)
		assert.Equal(t, "a", p.Errors[0].Field)
	})
	assert.Equal(t, before, count(), "nothing was created")
}

func TestInputThatUsedToBe500(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	_, balancer := env.CreateServiceToken(t, admin, "nul-balancer", apiclient.ServiceTokenRoleBalancer)
	cases := []struct {
		name, method, path, token, body, field string
	}{
		{"nul_in_login_username", http.MethodPost, "/auth/login", "", `{"username":"adm\u0000in","password":"whatever password"}`, "username"},
		{"nul_in_model_name", http.MethodPost, "/models", admin, `{"name":"gpt\u0000x"}`, "name"},
		{"nul_in_provider_name", http.MethodPost, "/providers", admin, `{"name":"p\u0000","type":"openai","models":["m"]}`, "name"},
		{"nul_in_provider_model", http.MethodPost, "/providers", admin, `{"name":"p-nul","type":"openai","models":["ok","m\u0000"]}`, "models.1"},
		{"nul_in_feature_value", http.MethodPut, "/admin/features", admin, `{"flag":"on\u0000"}`, "flag"},
		{"nul_in_heartbeat_id", http.MethodPost, "/balancers/heartbeat", balancer, `{"instance_id":"b\u00001","snapshot_version":1}`, "instance_id"},
		{"offset_beyond_15_59_in_body", http.MethodPost, "/admin/service-tokens", admin, `{"name":"tz","role":"viewer","expires_at":"2030-01-01T00:00:00+16:00"}`, "expires_at"},
		{"offset_beyond_15_59_in_query", http.MethodGet, "/logs?from=2026-01-01T00:00:00-23:00", admin, "", "from"},
		{"nul_in_query", http.MethodGet, "/admin/audit?action=a%00b", admin, "", "action"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := send(t, env, tc.method, tc.path, tc.token, tc.body, nil)
			require.Less(t, res.StatusCode, 500, string(body))
			p := problemField(t, res, body, http.StatusBadRequest)
			assert.Equal(t, tc.field, p.Errors[0].Field, string(body))
		})
	}
	t.Run("offset_15_59_is_fine", func(t *testing.T) {
		res, body := send(t, env, http.MethodPost, "/admin/service-tokens", admin, `{"name":"tz-ok","role":"viewer","expires_at":"2030-01-01T00:00:00+15:59"}`, nil)
		assert.Equal(t, http.StatusCreated, res.StatusCode, string(body))
	})
}

// A client that sends its headers and then trickles the body past
// server.read_timeout gets a 408, not a 500.
func TestSlowBodyIs408(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, func(c *app.Config) { c.Server.ReadTimeout = time.Second })
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.BaseURL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"username\":")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(15*time.Second)))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusRequestTimeout, res.StatusCode)
	assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
}

// A client that gives up mid-request is a 499 in the metrics, not a 500.
func TestClientDisconnectIs499(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	// Hold a lock so GET /providers waits inside its query.
	tx, err := env.DB.Beginx()
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.Exec(`LOCK TABLE providers IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.BaseURL+"/providers", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err, "the client gave up")

	require.Eventually(t, func() bool {
		return strings.Contains(metricsText(t, env), `ezapi_http_requests_total{method="GET",path="/providers",status="499"} 1`)
	}, 10*time.Second, 50*time.Millisecond)
	assert.NotContains(t, metricsText(t, env), `path="/providers",status="500"`)
}

// Load balancers probe from one address: the general rules leave the
// probes alone (a rule naming them still applies, see
// TestPathVariantsShareOneEndpointBucket).
func TestProbesAreExemptFromTheGeneralRules(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, rules(app.RuleConfig{Name: "per-ip", Scope: "ip", Algorithm: "sliding_window", Limit: 2, Window: time.Minute}))
	for range 5 {
		for _, p := range []string{"/livez", "/readyz", "/health", "/metrics"} {
			assert.NotEqual(t, http.StatusTooManyRequests, get(t, env, p, nil).StatusCode, p)
		}
	}
	codes := []int{}
	for range 3 {
		codes = append(codes, get(t, env, "/version", nil).StatusCode)
	}
	assert.Equal(t, []int{200, 200, 429}, codes, "other routes stay limited")
}

func TestHealthShowsDependencyErrorsOnlyToAuthenticatedCallers(t *testing.T) {
	t.Parallel()
	proxy := testenv.NewProxy(t, testenv.RedisAddr())
	env := testenv.Start(t, func(c *app.Config) { c.Redis.Addr = proxy.Addr() })
	admin := env.AdminToken(t)
	proxy.Cut()
	type checks struct {
		Checks map[string]struct {
			Status string  `json:"status"`
			Error  *string `json:"error"`
		} `json:"checks"`
	}
	read := func(path, token string) checks {
		res, body := send(t, env, http.MethodGet, path, token, "", nil)
		require.Contains(t, []int{200, 503}, res.StatusCode, string(body))
		var c checks
		require.NoError(t, json.Unmarshal(body, &c))
		require.Equal(t, "down", c.Checks["redis"].Status, string(body))
		require.NotNil(t, c.Checks["redis"].Error)
		return c
	}
	for _, path := range []string{"/health", "/readyz"} {
		assert.Equal(t, "unavailable", *read(path, "").Checks["redis"].Error, "%s: anonymous callers get a generic reason", path)
		assert.NotEqual(t, "unavailable", *read(path, admin).Checks["redis"].Error, "%s: an operator sees the cause", path)
		assert.Equal(t, "unavailable", *read(path, "not-a-valid-token").Checks["redis"].Error, "%s: a bad credential is anonymous", path)
	}
}

// A fleet of balancers shares one service token: the balancer role has its
// own principal rule instead of the general one.
func TestBalancerTokensHaveTheirOwnLimit(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, rules(
		app.RuleConfig{Name: "per-principal", Scope: "principal", Algorithm: "token_bucket", Limit: 2, Window: time.Hour, Burst: 2},
		app.RuleConfig{Name: "per-balancer", Scope: "principal", Algorithm: "token_bucket", Limit: 100, Window: time.Hour, Burst: 100, Role: "balancer"},
	))
	admin := env.AdminToken(t)
	_, balancer := env.CreateServiceToken(t, admin, "fleet", apiclient.ServiceTokenRoleBalancer)
	_, viewer := env.CreateServiceToken(t, admin, "script", apiclient.ServiceTokenRoleViewer)
	for i := range 10 {
		res, body := send(t, env, http.MethodPost, "/balancers/heartbeat", balancer, `{"instance_id":"b-1","snapshot_version":0}`, nil)
		require.Equal(t, http.StatusNoContent, res.StatusCode, "heartbeat %d: %s", i, body)
		assert.Equal(t, "100", res.Header.Get("RateLimit-Limit"))
	}
	var codes []int
	for range 3 {
		res, _ := send(t, env, http.MethodGet, "/models", viewer, "", nil)
		codes = append(codes, res.StatusCode)
	}
	assert.Equal(t, []int{200, 200, 429}, codes, "other principals keep the general limit")
}
