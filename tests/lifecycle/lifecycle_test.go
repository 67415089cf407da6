// Package lifecycle_test runs the real ezapi binary: start-up errors, and
// graceful shutdown on SIGTERM.
package lifecycle_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ezapi-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "ezapi")
	out, err := exec.Command("go", "build", "-o", binary, "../../cmd/ezapi").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build ezapi: %v\n%s", err, out)
		os.Exit(1)
	}
	code := testenv.Main(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func TestInvalidConfigExitsWithStatus2AndOneLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"non_numeric_port", []string{"EZ_API_PORT=abc"}, `server.port (EZ_API_PORT): "abc" is not an integer`},
		{"unparseable_duration", []string{"EZ_SERVER__SHUTDOWN_TIMEOUT=10 parsecs"}, "server.shutdown_timeout"},
		{"unknown_mode", []string{"EZ_MODE=qa"}, "mode (EZ_MODE)"},
		{"production_with_example_secret", []string{"EZ_MODE=production", "EZ_JWT_SECRET=change_me_in_production"}, "auth.jwt_secret (EZ_JWT_SECRET)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(binary, "serve")
			cmd.Env = append(testenv.Environ(), tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr)
			assert.Equal(t, 2, exitErr.ExitCode())
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			require.Len(t, lines, 1, stderr.String())
			assert.Contains(t, lines[0], tc.want)
		})
	}
}

var servingAddr = regexp.MustCompile(`msg=serving .*addr=(\S+)`)

// start runs `ezapi serve` and waits until it logs its address.
func start(t *testing.T, env ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(testenv.Environ("EZ_LOG_LEVEL=info"), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	logs := &syncBuffer{}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteLine(sc.Text())
			if m := servingAddr.FindStringSubmatch(sc.Text()); m != nil {
				addrCh <- m[1]
			}
		}
	}()
	select {
	case addr := <-addrCh:
		return cmd, addr, logs
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not start; logs:\n%s", logs)
		return nil, "", nil
	}
}

// blackHole accepts TCP connections and never answers: a dependency that hangs.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestSIGTERMLetsInFlightRequestFinishThenExits0(t *testing.T) {
	t.Parallel()
	// Redis hangs, so GET /health stays in flight for the probe timeout (2 s).
	cmd, addr, logs := start(t, "EZ_REDIS_ADDR="+blackHole(t))

	type result struct {
		status int
		body   string
		err    error
	}
	inFlight := make(chan result, 1)
	go func() {
		res, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + addr + "/health")
		if err != nil {
			inFlight <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		inFlight <- result{status: res.StatusCode, body: string(b)}
	}()
	time.Sleep(300 * time.Millisecond) // the request is now inside the handler (ordering, not a timing assertion)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))

	// New connections are refused once the listener is closed...
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	}, 5*time.Second, 20*time.Millisecond, "listener still open after SIGTERM")

	// ...while the in-flight request completes.
	select {
	case r := <-inFlight:
		require.NoError(t, r.err, "logs:\n%s", logs)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, r.body, `"status":"degraded"`)
	case <-time.After(15 * time.Second):
		t.Fatalf("in-flight request never completed; logs:\n%s", logs)
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit status 0; logs:\n%s", logs)
	case <-time.After(15 * time.Second):
		t.Fatalf("did not exit after SIGTERM; logs:\n%s", logs)
	}
	assert.Contains(t, logs.String(), "shutting down")
	assert.Contains(t, logs.String(), "stopped")
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	run := func(args ...string) string {
		cmd := exec.Command(binary, args...)
		cmd.Env = testenv.Environ()
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	run("migrate", "up")
	assert.Contains(t, run("migrate", "status"), "applied")
	assert.Contains(t, run("migrate", "up"), "applied 0 migration(s)", "idempotent")
}
