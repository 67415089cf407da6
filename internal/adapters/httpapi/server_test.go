package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/httpapi"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// A handler that panics (here: the health service is missing, so /version
// dereferences nil) answers a 500 problem that carries the request id and
// never the cause; the log has the cause under the same id.
func TestPanicIsA500ProblemWithoutItsCause(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	e, err := httpapi.NewEcho(httpapi.Options{BodyLimitBytes: 1 << 20}, httpapi.NewAPI(httpapi.Services{}, nil), nil, logger)
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/version", nil)
	req.Header.Set("X-Request-ID", "req-panic-1")
	e.ServeHTTP(rec, req)

	require.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, httpapi.ContentTypeProblem, rec.Header().Get("Content-Type"))
	var p map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Equal(t, "req-panic-1", p["request_id"])
	assert.Equal(t, float64(500), p["status"])
	assert.NotContains(t, rec.Body.String(), "nil pointer")
	assert.NotContains(t, rec.Body.String(), "runtime error")
	assert.Contains(t, logs.String(), "nil pointer", "the cause is logged")
	assert.Contains(t, logs.String(), "req-panic-1")
}

func TestStatusOfMapsDomainErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want int
	}{
		{fmt.Errorf("provider 7: %w", domain.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("name taken: %w", domain.ErrConflict), http.StatusConflict},
		{domain.NewValidationError("weight", "must be ≥ 0"), http.StatusUnprocessableEntity},
		{domain.ErrForbidden, http.StatusForbidden},
		{domain.ErrUnauthenticated, http.StatusUnauthorized},
		{domain.ErrRateLimited, http.StatusTooManyRequests},
		{domain.ErrUnavailable, http.StatusServiceUnavailable},
		{echo.ErrStatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge},
		{errors.New("pq: connection refused"), http.StatusInternalServerError},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, httpapi.StatusOf(tc.err), tc.err.Error())
	}
}

func TestNewProblemHidesServerErrorDetail(t *testing.T) {
	t.Parallel()
	p := httpapi.NewProblem(http.StatusServiceUnavailable, "dial tcp 10.0.0.5:5432: refused",
		[]domain.FieldError{{Field: "x", Message: "y"}}, "/p", "rid")
	assert.Nil(t, p.Detail)
	assert.Nil(t, p.Errors)
	p = httpapi.NewProblem(http.StatusUnprocessableEntity, "weight: must be ≥ 0",
		[]domain.FieldError{{Field: "weight", Message: "must be ≥ 0"}}, "/p", "rid")
	require.NotNil(t, p.Detail)
	require.NotNil(t, p.Errors)
	assert.Equal(t, "weight", (*p.Errors)[0].Field)
	assert.Equal(t, "urn:ezapi:problem:validation", p.Type)
}
