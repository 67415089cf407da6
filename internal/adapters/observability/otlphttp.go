package observability

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// otlpHTTPClient sends spans to an OTLP/HTTP receiver (binary protobuf,
// POST /v1/traces). otlptrace turns the SDK's spans into OTLP messages; this
// is only the transport. It stands in for otlptracehttp, whose shared
// configuration package imports gRPC (open-telemetry/opentelemetry-go#2579):
// linked, gRPC adds 2 MB of code and package init, and its x/net/trace init
// registers a template handler that defeats the linker's dead-method
// elimination for the whole binary.
//
// It behaves as otlptracehttp does with ezapi's options: a 10 s timeout per
// attempt, retries of 429/502/503/504 and temporary network errors with
// exponential backoff (5 s doubling to 30 s, at most 1 min, Retry-After
// honoured), and the standard OTEL_EXPORTER_OTLP_[TRACES_]{HEADERS,
// COMPRESSION,TIMEOUT,CERTIFICATE,CLIENT_CERTIFICATE,CLIENT_KEY} variables.
type otlpHTTPClient struct {
	url     string
	headers map[string]string
	gzip    bool
	http    *http.Client
	stop    chan struct{}
}

var _ otlptrace.Client = (*otlpHTTPClient)(nil)

const (
	otlpDefaultTimeout = 10 * time.Second
	otlpRetryInitial   = 5 * time.Second
	otlpRetryMax       = 30 * time.Second
	otlpRetryElapsed   = time.Minute
	// otlpMaxResponse bounds what is read of a receiver's answer.
	otlpMaxResponse = 64 << 10
)

// newOTLPHTTPClient reads the OTEL_EXPORTER_OTLP_* variables from getenv.
func newOTLPHTTPClient(endpoint string, insecure bool, getenv func(string) string) (*otlpHTTPClient, error) {
	env := func(name string) string {
		if v := getenv("OTEL_EXPORTER_OTLP_TRACES_" + name); v != "" {
			return v
		}
		return getenv("OTEL_EXPORTER_OTLP_" + name)
	}
	scheme := "https"
	if insecure {
		scheme = "http"
	}
	c := &otlpHTTPClient{
		url:     (&url.URL{Scheme: scheme, Host: endpoint, Path: "/v1/traces"}).String(),
		headers: parseOTLPHeaders(env("HEADERS")),
		stop:    make(chan struct{}),
	}
	switch v := strings.ToLower(strings.TrimSpace(env("COMPRESSION"))); v {
	case "gzip":
		c.gzip = true
	case "", "none":
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_COMPRESSION %q: want gzip or none", v)
	}
	timeout := otlpDefaultTimeout
	if v := env("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_TIMEOUT %q: want milliseconds", v)
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	tr := http.DefaultTransport.(*http.Transport).Clone() // proxy from the environment, as before
	if !insecure {
		cfg, err := otlpTLSConfig(env("CERTIFICATE"), env("CLIENT_CERTIFICATE"), env("CLIENT_KEY"))
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	c.http = &http.Client{Transport: tr, Timeout: timeout}
	return c, nil
}

func otlpTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("OTLP certificate: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("OTLP certificate %s: no PEM certificate", caFile)
		}
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("OTLP client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// parseOTLPHeaders reads "k1=v1,k2=v2" with URL-encoded values (the OTLP
// exporter specification); malformed entries are skipped.
func parseOTLPHeaders(s string) map[string]string {
	h := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k, err1 := url.PathUnescape(strings.TrimSpace(k))
		v, err2 := url.PathUnescape(strings.TrimSpace(v))
		if err1 != nil || err2 != nil || k == "" {
			continue
		}
		h[k] = v
	}
	return h
}

// Start implements otlptrace.Client.
func (c *otlpHTTPClient) Start(ctx context.Context) error { return ctx.Err() }

// Stop implements otlptrace.Client: uploads in flight give up their retries.
func (c *otlpHTTPClient) Stop(ctx context.Context) error {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	return ctx.Err()
}

// UploadTraces implements otlptrace.Client.
func (c *otlpHTTPClient) UploadTraces(ctx context.Context, spans []*tracepb.ResourceSpans) error {
	// TracesData has the wire format of ExportTraceServiceRequest (field 1,
	// repeated ResourceSpans); the collector package's type would link gRPC.
	body, err := proto.Marshal(&tracepb.TracesData{ResourceSpans: spans})
	if err != nil {
		return fmt.Errorf("otlp: marshal: %w", err)
	}
	if c.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		if err := zw.Close(); err != nil {
			return err
		}
		body = b.Bytes()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	deadline := time.Now().Add(otlpRetryElapsed)
	wait := otlpRetryInitial
	for {
		retryAfter, err := c.send(ctx, body)
		if err == nil {
			return nil
		}
		var re retryableError
		if !errors.As(err, &re) {
			return err
		}
		d := wait
		if retryAfter > 0 {
			d = retryAfter
		}
		if time.Now().Add(d).After(deadline) {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, otlpRetryMax)
	}
}

type retryableError struct{ error }

func (e retryableError) Unwrap() error { return e.error }

// send makes one attempt; a retryable failure comes back as retryableError,
// with the receiver's Retry-After if it gave one.
func (c *otlpHTTPClient) send(ctx context.Context, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "OTel OTLP Exporter Go/"+otlptrace.Version())
	if c.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ue.Temporary() {
			return 0, retryableError{err}
		}
		return 0, err
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, otlpMaxResponse))
	switch {
	case res.StatusCode >= 200 && res.StatusCode <= 299:
		if res.Header.Get("Content-Type") == "application/x-protobuf" {
			if err := partialSuccess(answer); err != nil {
				otel.Handle(err)
			}
		}
		return 0, nil
	case res.StatusCode == http.StatusTooManyRequests, res.StatusCode == http.StatusBadGateway,
		res.StatusCode == http.StatusServiceUnavailable, res.StatusCode == http.StatusGatewayTimeout:
		var after time.Duration
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
			after = time.Duration(s) * time.Second
		}
		return after, retryableError{fmt.Errorf("otlp: %s: %s", c.url, res.Status)}
	default:
		msg := strings.TrimSpace(string(answer))
		if msg == "" {
			msg = "(empty)"
		}
		return 0, fmt.Errorf("failed to send to %s: %s (body: %s)", c.url, res.Status, msg)
	}
}

// partialSuccess reads ExportTraceServiceResponse.partial_success (field 1:
// rejected_spans = 1, error_message = 2) and reports a rejection.
func partialSuccess(b []byte) error {
	var rejected int64
	var msg string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			ps, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil
			}
			b = b[n:]
			for len(ps) > 0 {
				f, t, m := protowire.ConsumeTag(ps)
				if m < 0 {
					return nil
				}
				ps = ps[m:]
				switch {
				case f == 1 && t == protowire.VarintType:
					v, m := protowire.ConsumeVarint(ps)
					if m < 0 {
						return nil
					}
					rejected, ps = int64(v), ps[m:]
				case f == 2 && t == protowire.BytesType:
					v, m := protowire.ConsumeBytes(ps)
					if m < 0 {
						return nil
					}
					msg, ps = string(v), ps[m:]
				default:
					m := protowire.ConsumeFieldValue(f, t, ps)
					if m < 0 {
						return nil
					}
					ps = ps[m:]
				}
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil
		}
		b = b[m:]
	}
	if rejected == 0 && msg == "" {
		return nil
	}
	return fmt.Errorf("OTLP partial success: %s (%d spans rejected)", msg, rejected)
}
