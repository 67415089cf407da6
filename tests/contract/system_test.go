package contract_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/health"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

func TestSystemOperations(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	ctx := context.Background()

	t.Run("getLivez200", func(t *testing.T) {
		res, err := env.Client.GetLivezWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		assert.Equal(t, apiclient.LivenessStatusOk, res.JSON200.Status)
	})

	t.Run("getReadyz200", func(t *testing.T) {
		res, err := env.Client.GetReadyzWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		assert.Equal(t, apiclient.ReadinessStatusReady, res.JSON200.Status)
		assert.Contains(t, res.JSON200.Checks, "postgres")
		assert.Contains(t, res.JSON200.Checks, "redis")
	})

	t.Run("getHealth200_reports_dependencies_with_latency", func(t *testing.T) {
		res, err := env.Client.GetHealthWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		h := res.JSON200
		assert.Equal(t, apiclient.HealthStatusHealthy, h.Status)
		assert.GreaterOrEqual(t, h.UptimeSeconds, 0.0)
		for _, dep := range []string{"postgres", "redis"} {
			c, ok := h.Checks[dep]
			require.True(t, ok, dep)
			assert.Equal(t, apiclient.DependencyHealthStatusUp, c.Status, dep)
			assert.Greater(t, c.LatencyMs, 0.0, dep)
		}
		assert.True(t, h.Checks["postgres"].Critical)
		assert.False(t, h.Checks["redis"].Critical)
	})

	t.Run("getVersion200", func(t *testing.T) {
		res, err := env.Client.GetVersionWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		assert.NotEmpty(t, res.JSON200.Version)
		assert.True(t, strings.HasPrefix(res.JSON200.GoVersion, "go"))
	})

	t.Run("getReadyz503_while_shutting_down", func(t *testing.T) {
		other := testenv.Start(t)
		other.Server.Health().SetPhase(health.PhaseShuttingDown)
		res, err := other.Client.GetReadyzWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode())
		require.NotNil(t, res.JSON503.Reason)
		assert.Equal(t, "shutting_down", *res.JSON503.Reason)
	})
}

func TestDegradedAndUnhealthy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("getHealth200_degraded_when_redis_is_unreachable", func(t *testing.T) {
		env := testenv.Start(t, func(c *app.Config) { c.Redis.Addr = "127.0.0.1:1" })
		res, err := env.Client.GetHealthWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		assert.Equal(t, apiclient.HealthStatusDegraded, res.JSON200.Status)
		redis := res.JSON200.Checks["redis"]
		assert.Equal(t, apiclient.DependencyHealthStatusDown, redis.Status)
		require.NotNil(t, redis.Error)

		ready, err := env.Client.GetReadyzWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusServiceUnavailable, ready.StatusCode())
		assert.Equal(t, "redis_unreachable", *ready.JSON503.Reason)
	})

	t.Run("getHealth503_unhealthy_when_postgres_is_unreachable", func(t *testing.T) {
		env := testenv.Start(t, func(c *app.Config) {
			c.Postgres.AutoMigrate = false
			c.Postgres.DSN = "host=127.0.0.1 port=1 user=postgres dbname=ezapi sslmode=disable connect_timeout=1"
		})
		res, err := env.Client.GetHealthWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode())
		assert.Equal(t, apiclient.HealthStatusUnhealthy, res.JSON503.Status)
	})
}

// problemOf decodes a problem body and checks the fields every error carries.
func problemOf(t *testing.T, res *http.Response, status int) apiclient.Problem {
	t.Helper()
	require.Equal(t, status, res.StatusCode)
	assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var p apiclient.Problem
	require.NoError(t, json.Unmarshal(body, &p), string(body))
	assert.Equal(t, int32(status), p.Status)
	require.NotNil(t, p.RequestId)
	assert.Equal(t, res.Header.Get("X-Request-ID"), *p.RequestId)
	return p
}

func TestErrorsAreProblems(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)

	do := func(t *testing.T, method, path string, body io.Reader, header http.Header) *http.Response {
		req, err := http.NewRequest(method, env.BaseURL+path, body)
		require.NoError(t, err)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := env.HTTP.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = res.Body.Close() })
		return res
	}

	t.Run("unknown_route_is_404_problem", func(t *testing.T) {
		p := problemOf(t, do(t, http.MethodGet, "/no/such/route", nil, nil), http.StatusNotFound)
		assert.Equal(t, "urn:ezapi:problem:not-found", p.Type)
		assert.Equal(t, "/no/such/route", *p.Instance)
	})

	t.Run("wrong_method_is_405_problem", func(t *testing.T) {
		p := problemOf(t, do(t, http.MethodDelete, "/health", nil, nil), http.StatusMethodNotAllowed)
		assert.Contains(t, *p.Detail, "DELETE")
	})

	t.Run("oversized_body_is_413_problem", func(t *testing.T) {
		big := strings.NewReader(strings.Repeat("x", int(env.Config.Server.BodyLimitBytes)+1))
		problemOf(t, do(t, http.MethodPost, "/livez", big, http.Header{"Content-Type": {"application/json"}}), http.StatusRequestEntityTooLarge)
	})

	t.Run("sane_request_id_is_kept", func(t *testing.T) {
		res := do(t, http.MethodGet, "/nope", nil, http.Header{"X-Request-Id": {"abc-123.DEF:9"}})
		p := problemOf(t, res, http.StatusNotFound)
		assert.Equal(t, "abc-123.DEF:9", *p.RequestId)
	})

	t.Run("insane_request_id_is_replaced", func(t *testing.T) {
		for _, bad := range []string{"has space", strings.Repeat("a", 129), "quote\"", "<script>"} {
			res := do(t, http.MethodGet, "/livez", nil, http.Header{"X-Request-Id": {bad}})
			require.Equal(t, http.StatusOK, res.StatusCode)
			got := res.Header.Get("X-Request-ID")
			assert.NotEqual(t, bad, got)
			assert.Len(t, got, 36, "a generated UUID")
		}
	})
}

func TestDocsAreServedFromTheBinary(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	get := func(path string) (*http.Response, string) {
		res, err := env.HTTP.Get(env.BaseURL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}

	res, body := get("/docs/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "swagger-ui")
	assert.Contains(t, body, "/openapi.yaml")
	assert.NotContains(t, body, "cdn.", "no CDN: the docs work offline")
	assert.NotContains(t, body, "unpkg.com")

	res, body = get("/docs/swagger-ui-bundle.js")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Greater(t, len(body), 100_000)

	res, body = get("/openapi.yaml")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "openapi: 3.0.3")

	res, body = get("/openapi.json")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	assert.Equal(t, "3.0.3", doc["openapi"])

	t.Run("docs_can_be_disabled", func(t *testing.T) {
		off := testenv.Start(t, func(c *app.Config) { c.Server.DocsEnabled = false })
		r, err := off.HTTP.Get(off.BaseURL + "/docs/")
		require.NoError(t, err)
		defer r.Body.Close()
		assert.Equal(t, http.StatusNotFound, r.StatusCode)
	})
}
