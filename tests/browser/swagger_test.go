// Package browser_test drives the Swagger UI at /docs/ in a real headless
// Chromium: the embedded assets load, every tag of openapi.yaml is rendered,
// the Authorize dialog accepts an operator JWT, and "Try it out" on
// GET /health gets a 200 from the running server.
package browser_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/testenv"
)

const (
	// testTimeout bounds everything the browser does.
	testTimeout = 90 * time.Second
	// installTimeout bounds apt-get when Chromium has to be installed.
	installTimeout = 10 * time.Minute
	// healthOp is the deep-link id Swagger UI gives GET /health (tag system).
	healthOp = "#operations-system-getHealth"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestSwaggerUI(t *testing.T) {
	chromium := ensureChromium(t)
	artifacts := artifactsDir(t)

	env := testenv.Start(t)
	token := env.AdminToken(t)
	spec, err := testenv.LoadSpec()
	require.NoError(t, err)
	var wantTags []string
	for _, tag := range spec.Tags {
		wantTags = append(wantTags, tag.Name)
	}
	require.NotEmpty(t, wantTags, "openapi.yaml declares no tags")

	// The hard cap: the browser dies with it whatever happens.
	rootCtx, rootCancel := context.WithTimeout(context.Background(), testTimeout+30*time.Second)
	defer rootCancel()
	allocCtx, allocCancel := chromedp.NewExecAllocator(rootCtx,
		chromedp.ExecPath(chromium),
		// Without these Chromium hangs on a closed network.
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1024),
	)
	defer allocCancel()
	browserCtx, browserCancel := chromedp.NewContext(allocCtx)
	defer browserCancel()
	// Start the browser with no deadline of its own (a deadline on the first
	// Do would bind the browser's life to it), then bound every step.
	require.NoError(t, chromedp.Do(browserCtx), "start Chromium (%s)", chromium)
	ctx, cancel := context.WithTimeout(browserCtx, testTimeout)
	defer cancel()

	console := collectConsole(browserCtx)
	ui := &page{t: t, ctx: ctx, diag: browserCtx, console: console, artifacts: artifacts}

	// 1. The page and its operation list.
	ui.do("open /docs/",
		chromedp.Navigate(env.BaseURL+"/docs/"),
		chromedp.WaitVisible(chromedp.CSS("#swagger-ui .opblock-tag-section")),
		chromedp.WaitVisible(chromedp.CSS(healthOp)),
	)

	// 2. Every tag of the contract has its section, with its name shown.
	type renderedTag struct {
		Tag  string `json:"tag"`
		Text string `json:"text"`
	}
	rendered := run(ui, "read the rendered tags", chromedp.Evaluate[[]renderedTag](`
		Array.from(document.querySelectorAll('#swagger-ui h3.opblock-tag')).map(h => ({
			tag: h.getAttribute('data-tag') || '',
			text: (h.querySelector('a span') || h.querySelector('a') || h).textContent.trim(),
		}))`))
	var gotTags []string
	for _, r := range rendered {
		gotTags = append(gotTags, r.Tag)
		assert.Equal(t, r.Tag, r.Text, "tag heading %q shows another name", r.Tag)
	}
	if !assert.ElementsMatch(t, wantTags, gotTags, "tags in openapi.yaml vs tag sections rendered by Swagger UI") {
		ui.diagnose("tags")
	}
	t.Logf("%d tags rendered: %s", len(gotTags), strings.Join(gotTags, ", "))

	// 3. Authorize with the operator JWT (bearerAuth).
	bearerForm := `.modal-ux form:has(#auth-bearer-value)`
	ui.do("open the Authorize dialog",
		chromedp.Click(chromedp.CSS(".auth-wrapper button.authorize")),
		chromedp.WaitVisible(chromedp.CSS("#auth-bearer-value")),
		chromedp.SendKeys(chromedp.CSS("#auth-bearer-value"), token),
		chromedp.Click(chromedp.CSS(bearerForm+" button.authorize")),
	)
	// The bearerAuth block now says "Authorized", and Swagger UI holds our token.
	run(ui, "wait for bearerAuth to be authorized", chromedp.Poll[bool](`
		Array.from(document.querySelectorAll('.modal-ux .auth-container')).some(c =>
			Array.from(c.querySelectorAll('h4 code')).some(code => code.textContent.trim() === 'bearerAuth') &&
			Array.from(c.querySelectorAll('h6')).some(h => h.textContent.includes('Authorized')))`,
		chromedp.WithPollingTimeout(10*time.Second)))
	stored := run(ui, "read the stored credential", chromedp.Evaluate[string](`
		(() => { const a = window.ui.authSelectors.authorized().toJS(); return (a.bearerAuth && a.bearerAuth.value) || ''; })()`))
	if stored != token {
		ui.diagnose("authorize")
		t.Fatalf("Swagger UI stored a bearerAuth value of %d chars, want the %d-char admin JWT", len(stored), len(token))
	}
	ui.do("close the Authorize dialog",
		chromedp.Click(chromedp.CSS(".modal-ux button.btn-done")),
		chromedp.WaitNotPresent(chromedp.CSS(".modal-ux")),
		chromedp.WaitVisible(chromedp.CSS(".auth-wrapper button.authorize.locked")),
	)

	// 4. Try it out on GET /health.
	ui.do("expand GET /health",
		chromedp.Click(chromedp.CSS(healthOp+" .opblock-summary-control")),
		chromedp.WaitVisible(chromedp.CSS(healthOp+" button.try-out__btn")),
	)
	ui.do("try it out and execute",
		chromedp.Click(chromedp.CSS(healthOp+" button.try-out__btn")),
		chromedp.WaitVisible(chromedp.CSS(healthOp+" button.execute")),
		chromedp.Click(chromedp.CSS(healthOp+" button.execute")),
		chromedp.WaitVisible(chromedp.CSS(healthOp+" .live-responses-table tr.response td.response-col_status")),
	)
	status := strings.TrimSpace(run(ui, "read the live status",
		chromedp.Text(chromedp.CSS(healthOp+" .live-responses-table tr.response td.response-col_status"))))
	requestURL := strings.TrimSpace(run(ui, "read the request URL",
		chromedp.Text(chromedp.CSS(healthOp+" .request-url pre"))))
	body := run(ui, "read the response body",
		chromedp.Text(chromedp.CSS(healthOp+" .live-responses-table tr.response td.response-col_description pre"))) // first <pre> is the body
	t.Logf("GET %s → %s", requestURL, status)
	if !strings.Contains(status, "200") {
		ui.diagnose("health")
		t.Fatalf("live response code for GET /health is %q, want 200; body: %s", status, body)
	}
	assert.Equal(t, env.BaseURL+"/health", requestURL, "Try it out called another server")
	assert.Contains(t, body, `"status"`, "GET /health body")

	// 5. Screenshots: the whole page, and the GET /health block with its 200.
	ui.do("scroll to GET /health", chromedp.ScrollIntoView(chromedp.CSS(healthOp)))
	full := run(ui, "full-page screenshot", chromedp.FullScreenshot(100)) // 100: PNG
	writeArtifact(t, filepath.Join(artifacts, "swagger-ui.png"), full)
	op := run(ui, "GET /health screenshot", chromedp.Screenshot(chromedp.CSS(healthOp)))
	writeArtifact(t, filepath.Join(artifacts, "swagger-ui-health.png"), op)

	if msgs := console.errors(); len(msgs) > 0 {
		t.Logf("browser console errors (not fatal):\n  %s", strings.Join(msgs, "\n  "))
	}
}

// page runs the steps of one test in one tab, and explains a failure.
type page struct {
	t         *testing.T
	ctx       context.Context // bounded by testTimeout
	diag      context.Context // the tab, for diagnostics after ctx ended
	console   *consoleLog
	artifacts string
}

func (p *page) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.diagnose(step)
		p.t.Fatalf("%s: %v", step, err)
	}
}

func run[T any](p *page, step string, a chromedp.Action[T]) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, a)
	if err != nil {
		p.diagnose(step)
		p.t.Fatalf("%s: %v", step, err)
	}
	return v
}

// diagnose logs where the page is, a snippet of its HTML and the console,
// and saves a screenshot of the failure.
func (p *page) diagnose(step string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.diag, 10*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const op = document.querySelector('`+healthOp+`.is-open');
		const modal = document.querySelector('.modal-ux');
		const el = modal || op || document.querySelector('#swagger-ui') || document.documentElement;
		return el.outerHTML;
	})()`))
	if err != nil {
		html = "(no HTML: " + err.Error() + ")"
	}
	const maxHTML = 4000
	if len(html) > maxHTML {
		html = html[:maxHTML] + "…(truncated)"
	}
	p.t.Logf("diagnostics after %q failed\nURL: %s\nHTML: %s", step, url, html)
	if msgs := p.console.all(); len(msgs) > 0 {
		p.t.Logf("browser console:\n  %s", strings.Join(msgs, "\n  "))
	}
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		writeArtifact(p.t, filepath.Join(p.artifacts, "swagger-ui-failure.png"), shot)
	}
}

// consoleLog keeps what the page wrote to its console.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func collectConsole(ctx context.Context) *consoleLog {
	c := &consoleLog{}
	messages := chromedp.Console(ctx) // subscribes now
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *consoleLog) all() []string {
	return c.filter(func(chromedp.ConsoleMessage) bool { return true })
}

func (c *consoleLog) errors() []string {
	return c.filter(func(m chromedp.ConsoleMessage) bool {
		return m.IsException() || m.Type == chromedp.ConsoleError
	})
}

func (c *consoleLog) filter(keep func(chromedp.ConsoleMessage) bool) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if keep(m) {
			out = append(out, fmt.Sprintf("[%s] %s (%s:%d)", m.Type, m, m.URL, m.Line+1))
		}
	}
	return out
}

// ensureChromium returns the Chromium binary, installing the Debian package
// when it is missing. It never skips: a missing browser is a failure.
func ensureChromium(t *testing.T) string {
	t.Helper()
	if p := findChromium(); p != "" {
		return p
	}
	aptGet, err := exec.LookPath("apt-get")
	if err != nil {
		t.Fatalf("Chromium is not installed and apt-get is unavailable: install Chromium (Debian: apt-get install chromium) so that /usr/bin/chromium or `chromium` on PATH exists")
	}
	var prefix []string
	if os.Geteuid() != 0 {
		sudo, err := exec.LookPath("sudo")
		if err != nil {
			t.Fatalf("Chromium is not installed and installing it needs root: run `apt-get update && apt-get install -y chromium` as root")
		}
		prefix = []string{sudo, "-n"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	t.Logf("Chromium not found: installing the Debian package (at most %s)", installTimeout)
	start := time.Now()
	// Wait for a dpkg lock another install holds rather than fail at once.
	lock := []string{"-o", "DPkg::Lock::Timeout=120"}
	for _, args := range [][]string{
		append(append([]string{aptGet}, lock...), "update", "-qq"),
		append(append([]string{aptGet}, lock...), "install", "-y", "-qq", "chromium"),
	} {
		argv := append(append([]string{}, prefix...), args...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				err = fmt.Errorf("%w (gave up after %s)", err, installTimeout)
			}
			t.Fatalf("install Chromium: %s: %v\n%s", strings.Join(argv, " "), err, tail(out, 30))
		}
	}
	p := findChromium()
	if p == "" {
		t.Fatalf("apt-get installed chromium, but neither /usr/bin/chromium nor `chromium` on PATH exists")
	}
	t.Logf("installed %s in %s", p, time.Since(start).Round(time.Second))
	return p
}

func findChromium() string {
	const debian = "/usr/bin/chromium"
	if fi, err := os.Stat(debian); err == nil && !fi.IsDir() {
		return debian
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

func tail(out []byte, lines int) string {
	l := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// artifactsDir is tests/artifacts (git-ignored); go test runs in tests/browser.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "artifacts"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	// A failure screenshot from an earlier run would mislead.
	_ = os.Remove(filepath.Join(dir, "swagger-ui-failure.png"))
	return dir
}

func writeArtifact(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Errorf("save %s: %v", path, err)
		return
	}
	t.Logf("saved %s (%d bytes)", path, len(data))
}
