// Package tracing_test checks that one API call produces its HTTP, SQL and
// Redis spans in one trace, with the trace id in the problem body.
package tracing_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ez-api/ez-api/tests/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestOneCallOneTraceWithHTTPSQLAndRedisSpans(t *testing.T) {
	// An in-memory exporter as the global provider; the server's
	// instrumentation (otelhttp, otelsql, redisotel) uses the global one.
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	env := testenv.Start(t)
	// GET /health pings PostgreSQL and Redis.
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, err := http.NewRequest(http.MethodGet, env.BaseURL+"/health", nil)
	require.NoError(t, err)
	req.Header.Set("traceparent", traceparent)
	res, err := env.HTTP.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	want := "4bf92f3577b34da6a3ce929d0e0e4736"
	var names []string
	require.Eventually(t, func() bool {
		names = names[:0]
		kinds := map[string]bool{}
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID().String() != want {
				continue
			}
			names = append(names, s.Name())
			switch {
			case s.Name() == "GET /health":
				kinds["http"] = true
			case strings.HasPrefix(s.Name(), "sql."):
				kinds["sql"] = true
			case strings.Contains(strings.ToLower(s.Name()), "ping") && s.InstrumentationScope().Name != "github.com/XSAM/otelsql":
				kinds["redis"] = true
			}
		}
		return kinds["http"] && kinds["sql"] && kinds["redis"]
	}, 5*time.Second, 20*time.Millisecond, "spans in the caller's trace")

	t.Logf("spans: %v", names)

	// A problem answer carries the trace id too.
	req, _ = http.NewRequest(http.MethodGet, env.BaseURL+"/no/such/route", nil)
	req.Header.Set("traceparent", traceparent)
	res, err = env.HTTP.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var p map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
	assert.Equal(t, want, p["trace_id"])
}
