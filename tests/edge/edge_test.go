package edge_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/testenv"
)

func rules(rs ...app.RuleConfig) testenv.Option {
	return func(c *app.Config) {
		c.RateLimit.Enabled = true
		c.RateLimit.Rules = rs
	}
}

func get(t *testing.T, env *testenv.Env, path string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.BaseURL+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req) // raw client: variants outside the contract on purpose
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res
}

func metricsText(t *testing.T, env *testenv.Env) string {
	t.Helper()
	res, err := http.Get(env.BaseURL + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	return string(b)
}

func TestRateLimitAnswersAProblemWithHeadersAndKeepsTheOrder(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, rules(app.RuleConfig{Name: "tiny", Scope: "ip", Algorithm: "sliding_window", Limit: 3, Window: time.Minute}))
	// A public route: authentication (which runs before the limiter) lets
	// unauthenticated callers through to it.
	for range 3 {
		res := get(t, env, "/version", nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "3", res.Header.Get("RateLimit-Limit"))
	}
	res, err := env.HTTP.Get(env.BaseURL + "/version") // through the contract checker
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
	assert.Equal(t, "0", res.Header.Get("RateLimit-Remaining"))
	assert.NotEmpty(t, res.Header.Get("RateLimit-Reset"))
	assert.NotEmpty(t, res.Header.Get("X-Request-ID"), "request id runs before the limiter")
	m := metricsText(t, env)
	assert.True(t, strings.Contains(m, `ezapi_http_requests_total{method="GET",path="/version",status="429"} 1`),
		"metrics run before the limiter, so the 429 is counted")
	assert.True(t, strings.Contains(m, `ezapi_ratelimit_rejections_total{rule="tiny"} 1`))
}

func TestUntrustedForwardedForChangesNothing(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, rules(app.RuleConfig{Name: "per-ip", Scope: "ip", Algorithm: "token_bucket", Limit: 2, Window: time.Hour, Burst: 2}))
	codes := []int{}
	for i := range 5 {
		res := get(t, env, "/version", http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)}})
		codes = append(codes, res.StatusCode)
	}
	assert.Equal(t, []int{200, 200, 429, 429, 429}, codes, "rotating X-Forwarded-For from an untrusted peer stays limited")
}

func TestTrustedProxyForwardedForIsTheClient(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, rules(app.RuleConfig{Name: "per-ip", Scope: "ip", Algorithm: "token_bucket", Limit: 1, Window: time.Hour, Burst: 1}),
		func(c *app.Config) { c.Server.TrustedProxies = []string{"127.0.0.1/32"} })
	assert.Equal(t, 200, get(t, env, "/version", http.Header{"X-Forwarded-For": {"198.51.100.1"}}).StatusCode)
	assert.Equal(t, 429, get(t, env, "/version", http.Header{"X-Forwarded-For": {"198.51.100.1"}}).StatusCode)
	assert.Equal(t, 200, get(t, env, "/version", http.Header{"X-Forwarded-For": {"198.51.100.2"}}).StatusCode, "another client behind the proxy")
	// IPv6 clients are limited per /64.
	assert.Equal(t, 200, get(t, env, "/version", http.Header{"X-Forwarded-For": {"2001:db8:1:2::1"}}).StatusCode)
	assert.Equal(t, 429, get(t, env, "/version", http.Header{"X-Forwarded-For": {"2001:db8:1:2:ffff::9"}}).StatusCode, "same /64")
}

func TestPathVariantsShareOneEndpointBucket(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, rules(app.RuleConfig{Name: "livez", Scope: "endpoint", Algorithm: "sliding_window", Limit: 3, Window: time.Minute, Match: "/livez"}))
	var codes []int
	for _, p := range []string{"/livez", "/livez/", "//livez", "/%6Civez", "/livez"} {
		codes = append(codes, get(t, env, p, nil).StatusCode)
	}
	assert.Equal(t, 200, codes[0])
	assert.Equal(t, 429, codes[3], "the fourth request to any spelling of /livez is limited")
	assert.Equal(t, 429, codes[4], "and /livez itself is out of budget")
}

func TestRandomPathsAddNoMetricSeries(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	series := func() int { return strings.Count(metricsText(t, env), "ezapi_http_requests_total{") }
	get(t, env, "/warm-up-404", nil)
	series() // the scrape itself becomes a series from the next scrape on
	before := series()
	var wg sync.WaitGroup
	var n atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for i := range 1250 {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/scan/%d/%d", env.BaseURL, w, i), nil)
				if res, err := http.DefaultClient.Do(req); err == nil {
					_ = res.Body.Close()
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(10_000), n.Load())
	assert.Equal(t, before, series(), "10,000 random 404 paths share the 'unmatched' label")
	assert.Contains(t, metricsText(t, env), `path="unmatched",status="404"`)
}

func TestTwoReplicasShareTheRedisBudget(t *testing.T) {
	t.Parallel()
	rule := app.RuleConfig{Name: "shared", Scope: "ip", Algorithm: "sliding_window", Limit: 20, Window: time.Minute}
	redisBackend := func(c *app.Config) {
		c.RateLimit.Backend = "redis"
		c.Redis.KeyPrefix = "edge-shared:"
	}
	a := testenv.Start(t, rules(rule), redisBackend)
	b := testenv.Start(t, rules(rule), redisBackend)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		env := a
		if i%2 == 1 {
			env = b
		}
		wg.Go(func() {
			if get(t, env, "/version", nil).StatusCode == http.StatusOK {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, admitted.Load(), int64(21), "a burst of twice the limit across two replicas admits at most the limit (+1)")
	assert.GreaterOrEqual(t, admitted.Load(), int64(20))
}

func TestRedisDownFallsBackToALocalLimiter(t *testing.T) {
	t.Parallel()
	proxy := testenv.NewProxy(t, testenv.RedisAddr())
	env := testenv.Start(t, rules(app.RuleConfig{Name: "fb", Scope: "ip", Algorithm: "token_bucket", Limit: 1000, Window: time.Minute, Burst: 1000}),
		func(c *app.Config) {
			c.RateLimit.Backend = "redis"
			c.RateLimit.Replicas = 2
			c.Redis.Addr = proxy.Addr()
			c.Redis.KeyPrefix = "edge-fb:"
		})
	proxy.Cut()
	for range 5 {
		assert.Equal(t, http.StatusOK, get(t, env, "/version", nil).StatusCode, "requests are still served")
	}
	m := metricsText(t, env)
	line := ""
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, "ezapi_ratelimit_fallbacks_total ") {
			line = l
		}
	}
	require.NotEmpty(t, line)
	v, err := strconv.ParseFloat(strings.Fields(line)[1], 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, v, 5.0)
}

func TestMetricsBearerProtection(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, func(c *app.Config) { c.Metrics.BearerToken = "scrape-secret" })
	res, err := http.Get(env.BaseURL + "/metrics")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	req, _ := http.NewRequest(http.MethodGet, env.BaseURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer scrape-secret")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(body), "go_goroutines")
	assert.Contains(t, string(body), "process_resident_memory_bytes")
}

// selfSigned writes a certificate and key for 127.0.0.1.
func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ezapi-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile
}

func TestTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile := selfSigned(t)
	env := testenv.Start(t, func(c *app.Config) { c.Server.TLS.CertFile, c.Server.TLS.KeyFile = certFile, keyFile })
	addr := strings.TrimPrefix(env.BaseURL, "http://")
	pool := x509.NewCertPool()
	pemBytes, err := os.ReadFile(certFile)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(pemBytes))

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := client.Get("https://" + addr + "/livez")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.GreaterOrEqual(t, res.TLS.Version, uint16(tls.VersionTLS12))

	old := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	_, err = old.Get("https://" + addr + "/livez")
	assert.Error(t, err, "TLS 1.1 is refused")

	_, err = (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/livez")
	if err == nil {
		// Go answers plain HTTP on a TLS port with a 400; either way no API.
		t.Log("plain HTTP got an answer (Go's 400 for HTTP on a TLS port)")
	}
	_ = context.Background()
}
