package deploy_test

import (
	"bufio"
	"crypto/rand"
	"debug/elf"
	"encoding/base64"
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

// nonroot is the uid and gid of the distroless "nonroot" user the image runs as.
const nonroot = 65532

// dockerfile is what the test needs from the Dockerfile: the build command,
// the build stage's environment, and the runtime stage's ENV, USER and WORKDIR.
type dockerfile struct {
	buildEnv   []string // ENV of the build stage (CGO_ENABLED=0 …)
	buildCmd   string   // the `go build …` command of the build stage
	runtimeEnv []string // ENV of the final stage
	user       string
	entrypoint string
	cmd        string
}

var (
	envLine  = regexp.MustCompile(`^ENV\s+(.+)$`)
	goBuild  = regexp.MustCompile(`(go build .*)$`)
	fromLine = regexp.MustCompile(`^FROM\s`)
)

// parseDockerfile reads ../../Dockerfile, joining continuation lines.
func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	raw, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	var lines []string
	cur := ""
	for _, l := range strings.Split(string(raw), "\n") {
		l = strings.TrimSpace(l)
		if cur == "" && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			cur += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		lines = append(lines, cur+l)
		cur = ""
	}
	var d dockerfile
	stage := 0
	for _, l := range lines {
		switch {
		case fromLine.MatchString(l):
			stage++
		case envLine.MatchString(l):
			fields := strings.Fields(envLine.FindStringSubmatch(l)[1])
			if stage == 1 {
				d.buildEnv = append(d.buildEnv, fields...)
			} else {
				d.runtimeEnv = append(d.runtimeEnv, fields...)
			}
		case strings.HasPrefix(l, "RUN ") && goBuild.MatchString(l):
			require.Equal(t, 1, stage, "the go build line belongs to the build stage")
			d.buildCmd = goBuild.FindStringSubmatch(l)[1]
		case strings.HasPrefix(l, "USER "):
			d.user = strings.TrimSpace(strings.TrimPrefix(l, "USER "))
		case strings.HasPrefix(l, "ENTRYPOINT "):
			d.entrypoint = strings.TrimSpace(strings.TrimPrefix(l, "ENTRYPOINT "))
		case strings.HasPrefix(l, "CMD "):
			d.cmd = strings.TrimSpace(strings.TrimPrefix(l, "CMD "))
		}
	}
	require.Equal(t, 2, stage, "multi-stage: a build stage and a runtime stage")
	return d
}

func TestDockerfileDescribesAStaticNonRootImage(t *testing.T) {
	d := parseDockerfile(t)
	assert.Contains(t, d.buildEnv, "CGO_ENABLED=0", "a static binary for a base without libc")
	assert.Contains(t, d.buildCmd, "-trimpath")
	assert.Contains(t, d.buildCmd, "-o /out/ezapi ./cmd/ezapi")
	assert.Equal(t, "65532:65532", d.user, "runs as distroless nonroot, never root")
	assert.Equal(t, `["/usr/local/bin/ezapi"]`, d.entrypoint)
	assert.Equal(t, `["serve"]`, d.cmd)

	// The ldflags set the same variables as `make build`.
	mk, err := os.ReadFile("../../Makefile")
	require.NoError(t, err)
	for _, v := range []string{"Version", "Commit", "BuildTime"} {
		assert.Contains(t, string(mk), "$(PKG)/internal/app."+v+"=", "Makefile sets %s", v)
		assert.Contains(t, d.buildCmd, "github.com/ez-api/ez-api/internal/app."+v+"=", "Dockerfile sets %s", v)
	}

	raw, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	goMod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(goMod)
	require.NotNil(t, goVersion)
	assert.Contains(t, string(raw), "ARG GO_VERSION="+string(goVersion[1]), "the image builds with go.mod's Go version")
	assert.Contains(t, string(raw), "EXPOSE 8080")
	assert.Regexp(t, `(?m)^FROM gcr\.io/distroless/static-debian12:nonroot$`, string(raw))
}

// TestImageBinaryServesAsNonRootWithNothingButTheBinary builds the binary with
// the Dockerfile's own `go build` line and environment, then runs it the way
// the image does: as uid/gid 65532, in an empty working directory, with no
// config file, the runtime stage's ENV and only the settings an operator
// passes (database, Redis, secrets). /readyz must answer 200.
func TestImageBinaryServesAsNonRootWithNothingButTheBinary(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("switching to uid 65532 needs root (the test machines and CI run as root)")
	}
	d := parseDockerfile(t)

	binDir := worldReadableDir(t)
	bin := filepath.Join(binDir, "ezapi")
	build := strings.Replace(d.buildCmd, "-o /out/ezapi", "-o "+bin, 1)
	require.NotEqual(t, d.buildCmd, build)
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = "../.."
	cmd.Env = append(append(os.Environ(), d.buildEnv...), "VERSION=v9.9.9-image", "COMMIT=abc1234", "BUILDTIME=2026-01-02T03:04:05Z")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	// Statically linked: no ELF interpreter (dynamic loader) and no shared libraries.
	f, err := elf.Open(bin)
	require.NoError(t, err)
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "the binary must not need a dynamic loader")
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	assert.Empty(t, libs)
	require.NoError(t, f.Close())

	workDir := worldReadableDir(t)
	require.NoError(t, os.Chown(workDir, nonroot, nonroot))
	cred := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nonroot, Gid: nonroot, Groups: []uint32{}}}

	// distroless static's own environment, then the Dockerfile's ENV.
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		"HOME=/home/nonroot",
	}
	env = append(env, d.runtimeEnv...)

	version := exec.Command(bin, "version")
	version.Dir, version.Env, version.SysProcAttr = workDir, env, cred
	out, err = version.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "v9.9.9-image", "version ldflags applied")
	assert.Contains(t, string(out), "abc1234")

	key := make([]byte, 32)
	_, err = rand.Read(key)
	require.NoError(t, err)
	env = append(env,
		"EZ_PG_DSN="+testenv.DSN(),
		"EZ_REDIS_ADDR="+testenv.RedisAddr(),
		"EZ_REDIS__DB="+itoa(testenv.RedisDB()),
		"EZ_JWT_SECRET="+base64.StdEncoding.EncodeToString(append(key, key...)),
		"EZ_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(key),
		"EZ_API_PORT=0",
	)
	serve := exec.Command(bin, "serve")
	serve.Dir, serve.Env, serve.SysProcAttr = workDir, env, cred
	stderr, err := serve.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, serve.Start())
	t.Cleanup(func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = serve.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = serve.Process.Kill()
			<-done
		}
	})

	port := waitForServingPort(t, stderr)
	url := "http://" + net.JoinHostPort("127.0.0.1", port) + "/readyz"
	client := &http.Client{Timeout: 5 * time.Second}
	require.Eventually(t, func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "GET /readyz never answered 200")

	// The process really runs as 65532 and wrote nothing into its directory.
	status, err := os.ReadFile("/proc/" + itoa(serve.Process.Pid) + "/status")
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^Uid:\s+65532\s+65532\s+65532\s+65532$`, string(status))
	assert.Regexp(t, `(?m)^Gid:\s+65532\s+65532\s+65532\s+65532$`, string(status))
	entries, err := os.ReadDir(workDir)
	require.NoError(t, err)
	assert.Empty(t, entries, "a read-only root filesystem must be enough")
}

// servingAddr finds the listen address in the JSON (production) or text log.
var servingAddr = regexp.MustCompile(`"msg":"serving".*"addr":"([^"]+)"|msg=serving .*addr=(\S+)`)

func waitForServingPort(t *testing.T, stderr interface{ Read([]byte) (int, error) }) string {
	t.Helper()
	found := make(chan string, 1)
	var logs strings.Builder
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if logs.Len() < 1<<16 {
				logs.WriteString(line + "\n")
			}
			if m := servingAddr.FindStringSubmatch(line); m != nil {
				addr := m[1] + m[2]
				_, port, err := net.SplitHostPort(addr)
				if err == nil {
					select {
					case found <- port:
					default:
					}
				}
			}
		}
	}()
	select {
	case port := <-found:
		return port
	case <-logsDone:
		t.Fatalf("server exited before serving; logs:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not log its address within 30s")
	}
	return ""
}

// worldReadableDir is a temporary directory uid 65532 can enter.
func worldReadableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ezapi-image")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
