package lifecycle_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/testenv"
)

// runBinary runs ezapi with args and the package environment plus env.
func runBinary(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(testenv.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	require.NoError(t, err)
	return 0, out.String(), errb.String()
}

func TestStartRefusalsReportEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  []string
		want []string
	}{
		{"production_lists_every_error", []string{"EZ_MODE=production", "EZ_API_PORT=70000", "EZ_JWT_SECRET=" + strings.Repeat(" ", 32)},
			[]string{"server.port (EZ_API_PORT)", "auth.jwt_secret (EZ_JWT_SECRET): too predictable", "crypto.encryption_key (EZ_ENCRYPTION_KEY)"}},
		{"example_secret_on_all_interfaces_in_development", []string{"EZ_JWT_SECRET=change_me_in_production", "EZ_SERVER__HOST=0.0.0.0"},
			[]string{"auth.jwt_secret (EZ_JWT_SECRET): the example secret is refused when listening on 0.0.0.0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runBinary(t, tc.env, "serve")
			assert.Equal(t, 2, code)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			require.Len(t, lines, 1, stderr)
			for _, w := range tc.want {
				assert.Contains(t, lines[0], w)
			}
		})
	}
}

// ownDatabase creates a database for one test (the package's is shared by
// parallel tests, some of which bootstrap an admin) and returns its DSN.
func ownDatabase(t *testing.T) string {
	t.Helper()
	admin, err := sqlx.Open("postgres", testenv.PGAdminDSN())
	require.NoError(t, err)
	name := fmt.Sprintf("ezapi_t_boot_%d", time.Now().UnixNano())
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		_ = admin.Close()
	})
	return testenv.PGAdminDSN() + " dbname=" + name
}

func TestAdminBootstrapFlagsAndExitCodes(t *testing.T) {
	t.Parallel()
	dsn := "EZ_PG_DSN=" + ownDatabase(t)
	runBinary := func(t *testing.T, env []string, args ...string) (int, string, string) {
		return runBinary(t, append(env, dsn), args...)
	}
	code, _, stderr := runBinary(t, []string{"EZ_BOOTSTRAP_PASSWORD=short"}, "admin", "bootstrap", "--username", "root")
	assert.Equal(t, 2, code, "a too-short password is bad input: %s", stderr)
	assert.Contains(t, stderr, "password")

	code, _, stderr = runBinary(t, nil, "admin", "bootstrap", "--username")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "EZ_BOOTSTRAP_USERNAME", "the usage line mentions the variable")

	code, stdout, stderr := runBinary(t, []string{"EZ_BOOTSTRAP_USERNAME=ignored", "EZ_BOOTSTRAP_PASSWORD=a long enough passphrase"},
		"admin", "bootstrap", "--username", "root")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, `created admin operator "root"`, "--username wins over the variable")

	code, _, _ = runBinary(t, []string{"EZ_BOOTSTRAP_PASSWORD=a long enough passphrase"}, "admin", "bootstrap", "--username=second")
	assert.Equal(t, 3, code, "an admin exists")
}

// startJSON runs `ezapi serve` with JSON logs and returns the process, its
// address and its log lines.
func startJSON(t *testing.T, env ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(testenv.Environ("EZ_LOG_LEVEL=info", "EZ_LOGGING__FORMAT=json"), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	logs := &syncBuffer{}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			logs.WriteLine(sc.Text())
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				addrCh <- line.Addr
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

func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration, logs *syncBuffer) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("no exit within %s of SIGTERM; logs:\n%s", within, logs)
		return nil
	}
}

func TestServeWarnsAndLogsReadableDurations(t *testing.T) {
	t.Parallel()
	cmd, _, logs := startJSON(t, "EZ_SERVER_PORT=1")
	out := logs.String()
	assert.Contains(t, out, "EZ_SERVER_PORT sets nothing; did you mean EZ_SERVER__PORT (server.port)?")
	assert.Contains(t, out, "auth.jwt_secret (EZ_JWT_SECRET) is not set: using a random secret", "development says its tokens do not survive a restart")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, waitExit(t, cmd, 20*time.Second, logs), logs.String())
	assert.Contains(t, logs.String(), `"timeout":"30s"`, "durations are not nanoseconds")
}

// A log writer blocked on a table lock cannot hold the process past
// server.shutdown_timeout, and the message says what was cut short.
func TestShutdownIsBoundedByShutdownTimeout(t *testing.T) {
	t.Parallel()
	cmd, addr, logs := start(t, "EZ_LOG__ACK=queued", "EZ_SERVER__SHUTDOWN_TIMEOUT=2s")
	db, err := sqlx.Open("postgres", testenv.DSN())
	require.NoError(t, err)
	defer db.Close()
	tok, err := domain.NewToken(domain.TokenService)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO service_tokens (name, role, token_hash, prefix) VALUES ('bounded', 'balancer', $1, $2)`, tok.Hash, tok.Prefix)
	require.NoError(t, err)

	tx, err := db.Beginx()
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.Exec(`LOCK TABLE logs IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)

	body := fmt.Sprintf(`[{"request_id":"bounded-1","created_at":%q,"model":"m"}]`, time.Now().UTC().Format(time.RFC3339Nano))
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/logs", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.Plaintext)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusAccepted, res.StatusCode)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	// The blocked write alone would take its own 30 s statement timeout.
	err = waitExit(t, cmd, 15*time.Second, logs)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "a cut-short shutdown is not a clean exit")
	assert.Contains(t, logs.String(), "after 2s (server.shutdown_timeout) while writing the queued access-log records")
	assert.NotContains(t, logs.String(), "database stayed unavailable", "the database was up; the write was blocked")
}

// 200 concurrent logins: password checks are bounded, so memory is too.
func TestLoginFloodKeepsMemoryBounded(t *testing.T) {
	t.Parallel()
	cmd, addr, logs := start(t, "EZ_AUTH__LOGIN_IP_MAX_FAILURES=1000", "EZ_AUTH__LOGIN_USER_MAX_FAILURES=1000")
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	client := &http.Client{Timeout: 60 * time.Second}
	for i := range 200 {
		wg.Go(func() {
			body := fmt.Sprintf(`{"username":"flood-%d","password":"not the password"}`, i)
			res, err := client.Post("http://"+addr+"/auth/login", "application/json", strings.NewReader(body))
			if err != nil {
				return
			}
			_ = res.Body.Close()
			mu.Lock()
			codes[res.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	require.NoError(t, err)
	var peakKiB int
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			peakKiB, _ = strconv.Atoi(f[1])
		}
	}
	require.Positive(t, peakKiB)
	t.Logf("status codes %v; peak RSS %d MiB", codes, peakKiB/1024)
	assert.Equal(t, 200, codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests], "%v; logs:\n%s", codes, logs)
	assert.Less(t, peakKiB, 300*1024, "peak RSS under 300 MB")
}
