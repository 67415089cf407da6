package console_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// webDir is the console's project, ../../web from this package.
func webDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "web"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		t.Fatalf("the console project is not at %s: %v", dir, err)
	}
	return dir
}

var install struct {
	sync.Mutex
	done bool
}

// installDeps runs `npm ci` when node_modules is missing or older than
// package-lock.json (npm records what it installed in
// node_modules/.package-lock.json).
func installDeps(t *testing.T, dir string) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: make test needs Node.js ≥ 20.19 with npm for the console (see https://nodejs.org/en/download)", tool)
		}
	}
	out := run(t, dir, nil, "node", "--version")
	v := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(out), "v"), ".", 3)
	major, _ := strconv.Atoi(v[0])
	minor := 0
	if len(v) > 1 {
		minor, _ = strconv.Atoi(v[1])
	}
	if major < 20 || (major == 20 && minor < 19) {
		t.Fatalf("Node.js %s is too old for the console (Vite 8): need ≥ 20.19", strings.TrimSpace(out))
	}
	install.Lock()
	defer install.Unlock()
	if install.done {
		return
	}
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil || lock.ModTime().After(installed.ModTime()) {
		// No install scripts: playwright-core drives the system Chromium
		// and downloads no browser.
		run(t, dir, nil, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	}
	install.done = true
}

// findChromium is Debian's Chromium (make test installs it through
// scripts/services.sh with EZ_SERVICES_CHROMIUM=1).
func findChromium(t *testing.T) string {
	t.Helper()
	const debian = "/usr/bin/chromium"
	if fi, err := os.Stat(debian); err == nil && !fi.IsDir() {
		return debian
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatalf("Chromium is not installed: run `EZ_SERVICES_CHROMIUM=1 scripts/services.sh` (Debian: apt-get install chromium)")
	return ""
}

// scratchProject copies the console's sources and configuration next to
// spec (as openapi.yaml), with node_modules linked to the installed one.
func scratchProject(t *testing.T, dir string, spec []byte) string {
	t.Helper()
	scratch := t.TempDir()
	if err := os.CopyFS(filepath.Join(scratch, "src"), os.DirFS(filepath.Join(dir, "src"))); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(filepath.Join(scratch, "src", "schema.d.ts"))
	for _, f := range []string{"package.json", "tsconfig.json", "vite.config.ts"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scratch, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(scratch, "openapi.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(scratch, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return scratch
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := command(t, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return out
}

// command runs name in dir within the package's budget and returns its
// combined output.
func command(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "FORCE_COLOR=0", "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	cmd.Env = append(cmd.Env, env...)
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (the %s budget of tests/console is spent)", ctx.Err(), budget)
	}
	t.Logf("%s %s: %s", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return buf.String(), err
}
