package console_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/testenv"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

// TestConsoleIsServed checks the document, its assets and their headers.
func TestConsoleIsServed(t *testing.T) {
	env := testenv.Start(t)

	res, _ := get(t, env.BaseURL+"/ui")
	assert.Equal(t, http.StatusMovedPermanently, res.StatusCode)
	assert.Equal(t, "/ui/", res.Header.Get("Location"))

	res, body := get(t, env.BaseURL+"/ui/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.Header.Get("Content-Type"), "text/html")
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		assert.Contains(t, csp, want)
	}
	assert.NotContains(t, csp, "unsafe-inline")
	assert.NotContains(t, csp, "unsafe-eval")
	assert.Equal(t, "DENY", res.Header.Get("X-Frame-Options"))
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-cache", res.Header.Get("Cache-Control"))
	assert.NotContains(t, body, "<script>", "an inline script would be refused by the CSP")
	assert.NotContains(t, body, "<style", "an inline style would be refused by the CSP")

	start := strings.Index(body, `src="/ui/assets/`)
	require.NotEqual(t, -1, start, "index.html loads no script from /ui/assets/")
	src := body[start+len(`src="`):]
	src = src[:strings.IndexByte(src, '"')]
	res, js := get(t, env.BaseURL+src)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.Header.Get("Content-Type"), "javascript")
	assert.Contains(t, res.Header.Get("Cache-Control"), "immutable")
	assert.NotEmpty(t, js)

	res, body = get(t, env.BaseURL+"/ui/assets/missing.js")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Contains(t, res.Header.Get("Content-Type"), "application/problem+json", body)
}

// TestConsoleCanBeTurnedOff checks server.ui_enabled: false.
func TestConsoleCanBeTurnedOff(t *testing.T) {
	env := testenv.Start(t, func(c *app.Config) { c.Server.UIEnabled = false })
	res, body := get(t, env.BaseURL+"/ui/")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Contains(t, res.Header.Get("Content-Type"), "application/problem+json", body)
}
