package deploy_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// tool finds a command that `make test` installs through
// EZ_SERVICES_DEPLOY=1 scripts/services.sh; missing, the test fails.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	require.NoError(t, err, "%s is missing: run EZ_SERVICES_DEPLOY=1 scripts/services.sh (make test does)", name)
	return path
}

func run(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestAlertRulesPassPromtool(t *testing.T) {
	out, err := run(t, "../../deploy/prometheus", "promtool", "check", "rules", "alerts.yaml")
	require.NoError(t, err, out)
	out, err = run(t, "../../deploy/prometheus", "promtool", "test", "rules", "alerts_test.yaml")
	require.NoError(t, err, out)
	assert.Contains(t, out, "SUCCESS")

	// Every alert has a unit test and a runbook section in docs/operations.md.
	tests, err := os.ReadFile("../../deploy/prometheus/alerts_test.yaml")
	require.NoError(t, err)
	ops, err := os.ReadFile("../../docs/operations.md")
	require.NoError(t, err)
	for where := range alertExprs(t) {
		alert := strings.TrimPrefix(where, "alert ")
		assert.Contains(t, string(tests), "alertname: "+alert+"\n", "%s has a unit test in alerts_test.yaml", alert)
		assert.Contains(t, string(ops), "\n### "+alert+"\n", "%s has a runbook section in docs/operations.md", alert)
	}
}

func TestPrometheusConfigPassesPromtool(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/prometheus/prometheus.yml")
	require.NoError(t, err)
	rules, err := filepath.Abs("../../deploy/prometheus/alerts.yaml")
	require.NoError(t, err)
	// compose.yaml mounts the rules at /etc/prometheus/alerts.yaml.
	require.Contains(t, string(raw), "/etc/prometheus/alerts.yaml")
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	require.NoError(t, os.WriteFile(cfg, bytes.ReplaceAll(raw, []byte("/etc/prometheus/alerts.yaml"), []byte(rules)), 0o600))
	out, err := run(t, ".", "promtool", "check", "config", cfg)
	require.NoError(t, err, out)
}

// composeEnv writes an env file: .env.example with every empty required
// secret filled in the way the comments say (openssl rand).
func composeEnv(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../.env.example")
	require.NoError(t, err)
	random := func(n int) []byte {
		b := make([]byte, n)
		_, err := rand.Read(b)
		require.NoError(t, err)
		return b
	}
	fill := map[string]string{
		"POSTGRES_PASSWORD":      hex.EncodeToString(random(24)),
		"EZ_JWT_SECRET":          base64.StdEncoding.EncodeToString(random(48)),
		"EZ_ENCRYPTION_KEY":      base64.StdEncoding.EncodeToString(random(32)),
		"GRAFANA_ADMIN_PASSWORD": hex.EncodeToString(random(16)),
	}
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && v == "" && fill[k] != "" {
			l = k + "=" + fill[k]
			delete(fill, k)
		}
		lines = append(lines, l)
	}
	require.Empty(t, fill, ".env.example lists every required secret, empty")
	path := filepath.Join(t.TempDir(), ".env")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600))
	return path
}

func TestComposeConfigIsValidForEveryProfile(t *testing.T) {
	envFile := composeEnv(t)
	cases := []struct {
		profile string
		want    []string
	}{
		{"", []string{"bootstrap", "ezapi", "postgres", "redis"}},
		{"tracing", []string{"bootstrap", "ezapi", "jaeger", "otel-collector", "postgres", "redis"}},
		{"metrics", []string{"bootstrap", "ezapi", "grafana", "postgres", "prometheus", "redis"}},
		{"observability", []string{"bootstrap", "ezapi", "grafana", "jaeger", "otel-collector", "postgres", "prometheus", "redis"}},
	}
	for _, tc := range cases {
		t.Run("profile_"+tc.profile, func(t *testing.T) {
			t.Parallel()
			args := []string{"-f", "compose.yaml", "--env-file", envFile}
			if tc.profile != "" {
				args = append(args, "--profile", tc.profile)
			}
			out, err := run(t, "../..", "docker-compose", append(args, "config")...)
			require.NoError(t, err, out)
			var cfg struct {
				Services map[string]struct {
					DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
					Healthcheck *struct{ Test []string }              `yaml:"healthcheck"`
					ReadOnly    bool                                  `yaml:"read_only"`
					CapDrop     []string                              `yaml:"cap_drop"`
					Environment map[string]string                     `yaml:"environment"`
					Profiles    []string                              `yaml:"profiles"`
				} `yaml:"services"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(out), &cfg), out)

			// docker-compose 1.29 prints every service whatever the profile;
			// what starts is the services without a profile plus this one's.
			var services []string
			for name, s := range cfg.Services {
				if len(s.Profiles) == 0 || slices.Contains(s.Profiles, tc.profile) {
					services = append(services, name)
				}
			}
			assert.ElementsMatch(t, tc.want, services)

			for _, name := range []string{"postgres", "redis"} {
				assert.NotNil(t, cfg.Services[name].Healthcheck, "%s has a healthcheck", name)
			}
			for _, name := range []string{"ezapi", "bootstrap"} {
				s := cfg.Services[name]
				for _, dep := range []string{"postgres", "redis"} {
					assert.Equal(t, "service_healthy", s.DependsOn[dep].Condition, "%s waits for a healthy %s", name, dep)
				}
				assert.True(t, s.ReadOnly, "%s runs on a read-only root filesystem", name)
				assert.Equal(t, []string{"ALL"}, s.CapDrop, name)
				assert.Equal(t, "production", s.Environment["EZ_MODE"], name)
				assert.NotEmpty(t, s.Environment["EZ_JWT_SECRET"], name)
				assert.NotEmpty(t, s.Environment["EZ_ENCRYPTION_KEY"], name)
			}
		})
	}
}

func TestComposeRefusesMissingSecrets(t *testing.T) {
	example, err := filepath.Abs("../../.env.example")
	require.NoError(t, err)
	out, err := run(t, "../..", "docker-compose", "-f", "compose.yaml", "--env-file", example, "config")
	require.Error(t, err, "the unfilled .env.example must not make a valid stack")
	assert.Contains(t, out, "in .env")
}
