// Package npmproject runs the Node.js projects the Go tests depend on
// (tests/ts-client, web/): it checks Node.js and npm, installs the pinned
// packages with `npm ci` when node_modules is missing or older than
// package-lock.json, and runs commands within a time budget, killing their
// whole process tree when it is spent.
package npmproject

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

// Project is one package.json directory.
type Project struct {
	// Dir holds package.json and package-lock.json.
	Dir string
	// Name says which project a failure is about.
	Name string
	// Node is the oldest Node.js version the project runs on, [major, minor].
	Node [2]int
	// Budget bounds everything run through the project in one test binary,
	// from New on.
	Budget time.Duration

	deadline time.Time
	mu       sync.Mutex
	done     bool
}

// New returns the project in dir (relative to the test's directory).
func New(dir, name string, node [2]int, budget time.Duration) *Project {
	abs, err := filepath.Abs(dir)
	if err != nil {
		panic(err)
	}
	return &Project{Dir: abs, Name: name, Node: node, Budget: budget, deadline: time.Now().Add(budget)}
}

// Install checks Node.js and npm and runs `npm ci` when needed. The project
// stays locked against other test processes until the test ends.
func (p *Project) Install(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(p.Dir, "package.json")); err != nil {
		t.Fatalf("%s: no package.json in %s: %v", p.Name, p.Dir, err)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: make test needs Node.js ≥ %d.%d with npm for %s (see https://nodejs.org/en/download)", tool, p.Node[0], p.Node[1], p.Name)
		}
	}
	out := strings.TrimSpace(p.Run(t, p.Dir, nil, "node", "--version"))
	v := strings.SplitN(strings.TrimPrefix(out, "v"), ".", 3)
	major, err := strconv.Atoi(v[0])
	minor := 0
	if len(v) > 1 {
		minor, _ = strconv.Atoi(v[1])
	}
	if err != nil || major < p.Node[0] || (major == p.Node[0] && minor < p.Node[1]) {
		t.Fatalf("Node.js %s is too old for %s: need ≥ %d.%d", out, p.Name, p.Node[0], p.Node[1])
	}
	p.lock(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	lock, err := os.Stat(filepath.Join(p.Dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := os.Stat(filepath.Join(p.Dir, "node_modules", ".package-lock.json"))
	if err != nil || lock.ModTime().After(installed.ModTime()) {
		// Install scripts are not needed (esbuild's only checks its binary;
		// playwright-core drives the system Chromium) and are not run.
		p.Run(t, p.Dir, nil, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	}
	p.done = true
}

// Bin is the path of an installed package's executable.
func (p *Project) Bin(name string) string {
	return filepath.Join(p.Dir, "node_modules", ".bin", name)
}

// Run executes name in dir and fails the test, with its output, unless it exits 0.
func (p *Project) Run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := p.Command(t, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return out
}

// Command executes name in dir with env added to the environment, within
// the budget, and returns its combined output.
func (p *Project) Command(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithDeadline(t.Context(), p.deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"NO_COLOR=1",
		"FORCE_COLOR=0",
		"npm_config_update_notifier=false",
		"npm_config_fund=false",
		"npm_config_audit=false",
	)
	cmd.Env = append(cmd.Env, env...)
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	killGroupOnCancel(cmd)
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (the %s budget of %s is spent)", ctx.Err(), p.Budget, p.Name)
	}
	t.Logf("%s %s: %s", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return buf.String(), err
}

// Scratch lays out a copy of the project in a temporary directory: paths
// (files or directories, relative to Dir), spec written as openapi.yaml,
// and node_modules linked to the installed one. A test that regenerates the
// types from a changed spec type-checks the copy.
func (p *Project) Scratch(t *testing.T, spec []byte, paths ...string) string {
	t.Helper()
	scratch := t.TempDir()
	for _, rel := range paths {
		src, dst := filepath.Join(p.Dir, rel), filepath.Join(scratch, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(src); err == nil && fi.IsDir() {
			if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(scratch, "openapi.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(p.Dir, "node_modules"), filepath.Join(scratch, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return scratch
}
