// Package tsclient_test checks openapi.yaml from a TypeScript client's side:
// openapi-typescript generates src/schema.d.ts from the spec, tsc checks
// src/main.ts (openapi-fetch) against it, and the program then runs against a
// live server. A field renamed in the spec must break the type check.
//
// Node.js (≥ 20) and npm are required; the pinned packages are installed
// with `npm ci` from package-lock.json when node_modules is missing or stale.
package tsclient_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/npmproject"
	"github.com/ez-api/ez-api/tests/testenv"
)

// budget bounds everything this package runs through npm, node and tsc.
const budget = 5 * time.Minute

var project *npmproject.Project

func TestMain(m *testing.M) {
	project = npmproject.New(".", "tests/ts-client", [2]int{20, 0}, budget)
	os.Exit(testenv.Main(m))
}

// TestTypeScriptClient generates the types, type-checks the program and runs
// it against an in-process server.
func TestTypeScriptClient(t *testing.T) {
	dir := clientDir(t)
	installDeps(t, dir)
	run(t, dir, nil, "npm", "run", "gen")
	run(t, dir, nil, "npm", "run", "typecheck")

	env := testenv.Start(t)
	admin := env.AdminToken(t)
	_, balancerToken := env.CreateServiceToken(t, admin, "ts-balancer", apiclient.ServiceTokenRoleBalancer)
	out := run(t, dir, []string{
		"EZAPI_BASE_URL=" + env.BaseURL,
		"EZAPI_USERNAME=" + testenv.AdminUsername,
		"EZAPI_PASSWORD=" + testenv.AdminPassword,
		"EZAPI_BALANCER_TOKEN=" + balancerToken,
	}, "npm", "start")
	if !strings.Contains(out, "ts-client: OK:") {
		t.Fatalf("the program exited 0 without its summary line:\n%s", out)
	}
	t.Log(lastLine(out))
}

// TestRenamedFieldBreaksTypeCheck renames, everywhere in a copy of the spec,
// a field the program reads or sends, regenerates the types from the copy
// into a scratch project holding the same program and tsconfig, and expects
// tsc to fail on that field. The unchanged spec must pass the same check, so
// the failure is the rename's.
func TestRenamedFieldBreaksTypeCheck(t *testing.T) {
	dir := clientDir(t)
	installDeps(t, dir)
	spec, err := os.ReadFile(filepath.Join(dir, "..", "..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Each case replaces old (a whole-word regexp) with new everywhere in
	// the spec; tsc must then fail on field in src/main.ts.
	cases := []struct {
		name, old, new, field string
	}{
		{"unchanged", "", "", ""},
		// AccessTokenResponse, read after login.
		{"response_field", `access_token`, "accessToken", "access_token"},
		// CreateBindingRequest, sent.
		{"request_body_field", `public_model`, "publicModel", "public_model"},
		// LogRecord sent, LogRecordView read and the GET /logs query parameter.
		{"record_field", `request_id`, "requestId", "request_id"},
		// Only the GET /logs query parameter.
		{"query_parameter", `name: request_id`, "name: requestId", "request_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			renamed := spec
			if tc.old != "" {
				word := regexp.MustCompile(`\b` + tc.old + `\b`)
				if !word.Match(spec) {
					t.Fatalf("openapi.yaml has no %q to rename; update this test", tc.old)
				}
				renamed = word.ReplaceAll(spec, []byte(tc.new))
			}
			scratch := scratchProject(t, dir, renamed)
			gen := genArgs(t, dir)
			run(t, scratch, nil, filepath.Join(dir, "node_modules", ".bin", "openapi-typescript"), gen...)
			tsc := []string{"--noEmit", "-p", scratch, "--skipLibCheck"}
			if tc.old == "" {
				run(t, scratch, nil, filepath.Join(dir, "node_modules", ".bin", "tsc"), tsc...)
				return
			}
			out, err := command(t, scratch, nil, filepath.Join(dir, "node_modules", ".bin", "tsc"), tsc...)
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("tsc passed (or did not run: %v) with %q renamed in the spec; the program no longer depends on it:\n%s", err, tc.field, out)
			}
			if !strings.Contains(out, "src/main.ts") || !strings.Contains(out, "'"+tc.field+"'") {
				t.Fatalf("tsc failed, but not on %q in src/main.ts:\n%s", tc.field, out)
			}
			t.Logf("tsc rejects the program with %q renamed:\n%s", tc.field, firstLines(out, 3))
		})
	}
}

// clientDir is this package's directory, where package.json is.
func clientDir(*testing.T) string { return project.Dir }

// installDeps installs the pinned packages when needed (npmproject).
func installDeps(t *testing.T, _ string) { project.Install(t) }

// genArgs are the arguments of the "gen" script after the spec path and
// before -o, so the rename test generates exactly as `npm run gen` does.
func genArgs(t *testing.T, dir string) []string {
	t.Helper()
	pkg, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"gen":\s*"openapi-typescript \.\./\.\./openapi\.yaml((?: --?[a-z-]+(?: (?:true|false))?)*) -o src/schema\.d\.ts"`).FindSubmatch(pkg)
	if m == nil {
		t.Fatal(`package.json's "gen" script is not "openapi-typescript ../../openapi.yaml [flags] -o src/schema.d.ts"; update genArgs`)
	}
	args := []string{"openapi.yaml"}
	args = append(args, strings.Fields(string(m[1]))...)
	return append(args, "-o", filepath.Join("src", "schema.d.ts"))
}

// scratchProject lays out a project in a temporary directory with spec as
// openapi.yaml, the same package.json, tsconfig.json and src/main.ts, and
// node_modules linked to the installed one.
func scratchProject(t *testing.T, _ string, spec []byte) string {
	t.Helper()
	return project.Scratch(t, spec, "package.json", "tsconfig.json", filepath.Join("src", "main.ts"))
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	return project.Run(t, dir, env, name, args...)
}

func command(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	return project.Command(t, dir, env, name, args...)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
