// Package footprint_test guards what the ezapi binary links, which decides
// most of its resident memory at start: the kernel maps the binary's pages
// around every one the process touches, so package inits and code spread over
// a big binary cost RSS whether or not a request ever runs them (issue 14:
// idle RSS <= 30 MB).
package footprint_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mainPkg = "github.com/ez-api/ez-api/cmd/ezapi"

// TestNoGRPCOrTemplateHandlers: the OTLP/HTTP exporter is ezapi's own
// transport because otlptracehttp's shared config imports gRPC (2 MB of code
// and init); gRPC also brings x/net/trace, whose init registers an HTML
// template handler. swgui's Swagger UI handler executes html/template per
// request; ezapi serves the rendered page instead.
func TestNoGRPCOrTemplateHandlers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", mainPkg).CombinedOutput()
	require.NoError(t, err, string(out))
	deps := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		deps[d] = true
	}
	for _, banned := range []string{
		"google.golang.org/grpc",
		"golang.org/x/net/trace",
		"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp",
		"github.com/swaggest/swgui/internal",
	} {
		assert.False(t, deps[banned], "%[1]s is linked into ezapi (`go mod why %[1]s` shows why)", banned)
	}
}

// TestLinkerKeepsOnlyCalledMethods: when code that looks methods up by a
// name computed at run time (text/template executing, reflect.Value.Method
// with a variable) is reachable, the linker must keep every exported method
// of every type that can end up in an interface: with go-redis's thousands of
// commands the binary went from 22 MB to 34 MB and idle RSS up by 5 MB. The
// linker's -dumpdep marks such code <ReflectMethod>; this test prints the chain
// that made it reachable.
func TestLinkerKeepsOnlyCalledMethods(t *testing.T) {
	if testing.Short() {
		t.Skip("links the binary")
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -dumpdep", "-o", "/dev/null", mainPkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), lastLines(stderr.String(), 20))

	mark := regexp.MustCompile(` <[A-Za-z]+>$`)
	parent := map[string]string{}
	var flagged []string
	sc := bufio.NewScanner(&stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		from, to, ok := strings.Cut(sc.Text(), " -> ")
		if !ok {
			continue
		}
		if strings.HasSuffix(to, " <ReflectMethod>") {
			flagged = append(flagged, mark.ReplaceAllString(to, ""))
		}
		from, to = mark.ReplaceAllString(from, ""), mark.ReplaceAllString(to, "")
		if _, seen := parent[to]; !seen {
			parent[to] = from
		}
	}
	require.NoError(t, sc.Err())
	for _, f := range flagged {
		chain := []string{f}
		for s := f; len(chain) < 40; {
			p, ok := parent[s]
			if !ok || p == s {
				break
			}
			chain, s = append(chain, p), p
		}
		t.Errorf("reflective method lookup reachable, so every exported method is linked:\n  %s", strings.Join(chain, "\n  <- "))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
