package observability_test

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/ez-api/ez-api/internal/adapters/observability"
)

// receiver is a fake OTLP/HTTP collector recording what it is sent.
type receiver struct {
	mu       sync.Mutex
	status   []int // answers to give in order, then 200
	attempts int
	headers  []http.Header
	spans    []string
	service  string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	r.headers = append(r.headers, req.Header.Clone())
	if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
		http.NotFound(w, req)
		return
	}
	if len(r.status) > 0 {
		code := r.status[0]
		r.status = r.status[1:]
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(code)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	// ExportTraceServiceRequest and TracesData share their wire format.
	var td tracepb.TracesData
	if err := proto.Unmarshal(b, &td); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, rs := range td.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				r.service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, s.Name)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// exportOne sets up tracing against rec, records one span and flushes it.
func exportOne(t *testing.T, rec *receiver) {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	shutdown, err := observability.SetupTracing(context.Background(), observability.TracingOptions{
		Enabled: true, Endpoint: strings.TrimPrefix(srv.URL, "http://"), Insecure: true,
		SampleRatio: 1, ServiceName: "ezapi-test", Version: "test",
	})
	require.NoError(t, err)
	_, span := otel.Tracer("test").Start(context.Background(), "GET /providers/{id}")
	span.End()
	require.NoError(t, shutdown(context.Background()), "shutdown flushes the batch")
}

func TestTracingExportsOTLPHTTP(t *testing.T) {
	t.Run("posts_protobuf_spans_to_v1_traces_with_env_headers", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s%3Dcret, x-tenant = ez")
		rec := &receiver{}
		exportOne(t, rec)
		assert.Equal(t, []string{"GET /providers/{id}"}, rec.spans)
		assert.Equal(t, "ezapi-test", rec.service)
		require.Len(t, rec.headers, 1)
		h := rec.headers[0]
		assert.Equal(t, "application/x-protobuf", h.Get("Content-Type"))
		assert.Equal(t, "s=cret", h.Get("X-Api-Key"))
		assert.Equal(t, "ez", h.Get("X-Tenant"))
	})
	t.Run("compresses_with_gzip_when_asked", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
		rec := &receiver{}
		exportOne(t, rec)
		assert.Equal(t, []string{"GET /providers/{id}"}, rec.spans)
		require.Len(t, rec.headers, 1)
		assert.Equal(t, "gzip", rec.headers[0].Get("Content-Encoding"))
	})
	t.Run("retries_an_unavailable_receiver", func(t *testing.T) {
		rec := &receiver{status: []int{http.StatusServiceUnavailable}}
		exportOne(t, rec)
		assert.Equal(t, 2, rec.attempts)
		assert.Equal(t, []string{"GET /providers/{id}"}, rec.spans)
	})
	t.Run("rejects_an_unknown_compression", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")
		_, err := observability.SetupTracing(context.Background(), observability.TracingOptions{
			Enabled: true, Endpoint: "127.0.0.1:1", Insecure: true, SampleRatio: 1, ServiceName: "x",
		})
		require.Error(t, err)
	})
}
