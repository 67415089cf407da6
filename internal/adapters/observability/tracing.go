package observability

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// TracingOptions configure OpenTelemetry tracing over OTLP/HTTP.
type TracingOptions struct {
	Enabled     bool
	Endpoint    string // host:port of the OTLP/HTTP receiver
	Insecure    bool
	SampleRatio float64
	ServiceName string
	Version     string
}

// SetupTracing installs the global tracer provider and the W3C trace-context
// propagator. Disabled, it installs nothing (the global no-op provider
// stays) and returns a no-op shutdown.
func SetupTracing(ctx context.Context, o TracingOptions) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !o.Enabled {
		return func(context.Context) error { return nil }, nil
	}
	client, err := newOTLPHTTPClient(o.Endpoint, o.Insecure, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	exp, err := otlptrace.New(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(o.ServiceName), semconv.ServiceVersion(o.Version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
	)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// TracingInstalled reports whether an SDK tracer provider is the global one:
// installed by SetupTracing, or by a program embedding the server (a test
// recording spans). Otherwise spans are no-ops and HTTP needs no wrapper.
func TracingInstalled() bool {
	_, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	return ok
}
