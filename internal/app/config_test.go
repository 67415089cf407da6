package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
)

const validKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 bytes

// goodSecret is what `openssl rand -base64 36` prints.
const goodSecret = "q3Vt9XkP2bLr7sZcYw1HfN8aJm4DgE6uTiO0xRvWQyK5nCjB"

func load(t *testing.T, env ...string) (app.Config, error) {
	t.Helper()
	return app.LoadConfig(append([]string{"EZ_CONFIG_FILE=" + os.DevNull}, env...))
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := load(t)
	require.NoError(t, err)
	assert.Equal(t, app.ModeDevelopment, cfg.Mode)
	assert.Equal(t, "127.0.0.1:8080", cfg.ListenAddr(), "development binds loopback")
	assert.Equal(t, 30*time.Second, cfg.Server.ShutdownTimeout)
	assert.Equal(t, "text", cfg.Logging.Format)
	assert.Equal(t, []string{"*"}, cfg.Server.CORS.AllowOrigins, "development CORS is permissive")
	assert.Equal(t, []string{"localhost:6379"}, cfg.Redis.Addrs())
	assert.True(t, cfg.Postgres.AutoMigrate)
}

func TestLoadConfigSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("server:\n  port: 9000\n  shutdown_timeout: 5s\nredis:\n  addr: a:1,b:2\nlogging:\n  level: debug\n"), 0o600))

	t.Run("file_overrides_defaults", func(t *testing.T) {
		cfg, err := app.LoadConfig([]string{"EZ_CONFIG_FILE=" + file})
		require.NoError(t, err)
		assert.Equal(t, 9000, cfg.Server.Port)
		assert.Equal(t, 5*time.Second, cfg.Server.ShutdownTimeout)
		assert.Equal(t, []string{"a:1", "b:2"}, cfg.Redis.Addrs())
		assert.Equal(t, "debug", cfg.Logging.Level)
	})

	t.Run("environment_overrides_file", func(t *testing.T) {
		cfg, err := app.LoadConfig([]string{
			"EZ_CONFIG_FILE=" + file, "EZ_API_PORT=9100", "EZ_LOG_LEVEL=warn",
			"EZ_SERVER__SHUTDOWN_TIMEOUT=7s", "EZ_REDIS_ADDR=r:6379", "EZ_REDIS__DB=3",
			"EZ_SERVER__CORS__ALLOW_ORIGINS=https://a.example, https://b.example",
			"EZ_PG_DSN=host=db", "EZ_UNRELATED=ignored",
		})
		require.NoError(t, err)
		assert.Equal(t, 9100, cfg.Server.Port)
		assert.Equal(t, "warn", cfg.Logging.Level)
		assert.Equal(t, 7*time.Second, cfg.Server.ShutdownTimeout)
		assert.Equal(t, []string{"r:6379"}, cfg.Redis.Addrs())
		assert.Equal(t, 3, cfg.Redis.DB)
		assert.Equal(t, []string{"https://a.example", "https://b.example"}, cfg.Server.CORS.AllowOrigins)
		assert.Equal(t, "host=db", cfg.Postgres.DSN)
	})

	t.Run("production_defaults", func(t *testing.T) {
		cfg, err := app.LoadConfig([]string{"EZ_CONFIG_FILE=" + os.DevNull, "EZ_MODE=production",
			"EZ_JWT_SECRET=" + goodSecret, "EZ_ENCRYPTION_KEY=" + validKey})
		require.NoError(t, err)
		assert.Equal(t, "0.0.0.0:8080", cfg.ListenAddr())
		assert.Equal(t, "json", cfg.Logging.Format)
		assert.Empty(t, cfg.Server.CORS.AllowOrigins, "production CORS allows nothing by default")
	})
}

func TestLoadConfigRejects(t *testing.T) {
	t.Parallel()
	prodOK := []string{"EZ_MODE=production", "EZ_JWT_SECRET=" + goodSecret, "EZ_ENCRYPTION_KEY=" + validKey}
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"rejects_non_numeric_port", []string{"EZ_API_PORT=abc"}, `server.port (EZ_API_PORT): "abc" is not an integer`},
		{"rejects_port_out_of_range", []string{"EZ_API_PORT=70000"}, "server.port (EZ_API_PORT): 70000 is outside 0..65535"},
		{"rejects_unparseable_duration", []string{"EZ_SERVER__SHUTDOWN_TIMEOUT=soon"}, `server.shutdown_timeout (EZ_SERVER__SHUTDOWN_TIMEOUT): "soon" is not a duration`},
		{"rejects_a_zero_binding_resolve_budget", []string{"EZ_SYNC__BINDING_RESOLVE_BUDGET=0s"}, "sync.binding_resolve_budget (EZ_SYNC__BINDING_RESOLVE_BUDGET): 0s is outside 1ms..1m"},
		{"rejects_an_unbounded_binding_resolve_budget", []string{"EZ_SYNC__BINDING_RESOLVE_BUDGET=2m"}, "sync.binding_resolve_budget (EZ_SYNC__BINDING_RESOLVE_BUDGET): 2m0s is outside 1ms..1m"},
		{"rejects_unknown_mode", []string{"EZ_MODE=staging"}, `mode (EZ_MODE): "staging" is not one of development, production`},
		{"rejects_unknown_level", []string{"EZ_LOG_LEVEL=loud"}, "logging.level (EZ_LOG_LEVEL)"},
		{"rejects_bad_boolean", []string{"EZ_POSTGRES__AUTO_MIGRATE=perhaps"}, `postgres.auto_migrate (EZ_POSTGRES__AUTO_MIGRATE): "perhaps" is not a boolean`},
		{"rejects_half_tls", []string{"EZ_SERVER__TLS__CERT_FILE=/c.pem"}, "server.tls: cert_file and key_file must be set together"},
		{"rejects_malformed_encryption_key", []string{"EZ_ENCRYPTION_KEY=short"}, "crypto.encryption_key (EZ_ENCRYPTION_KEY): must be 32 bytes"},
		{"production_rejects_example_secret", []string{"EZ_MODE=production", "EZ_ENCRYPTION_KEY=" + validKey}, "auth.jwt_secret (EZ_JWT_SECRET): production mode"},
		{"production_rejects_short_secret", []string{"EZ_MODE=production", "EZ_JWT_SECRET=short", "EZ_ENCRYPTION_KEY=" + validKey}, "auth.jwt_secret (EZ_JWT_SECRET)"},
		{"production_requires_encryption_key", []string{"EZ_MODE=production", "EZ_JWT_SECRET=" + goodSecret}, "crypto.encryption_key (EZ_ENCRYPTION_KEY): production mode needs an encryption key"},
		{"rejects_wildcard_origin_with_credentials", append(prodOK, "EZ_SERVER__CORS__ALLOW_ORIGINS=*", "EZ_SERVER__CORS__ALLOW_CREDENTIALS=true"), "allow_credentials cannot be combined"},
		{"production_rejects_spaces_secret", []string{"EZ_MODE=production", "EZ_JWT_SECRET=" + strings.Repeat(" ", 32), "EZ_ENCRYPTION_KEY=" + validKey}, "auth.jwt_secret (EZ_JWT_SECRET): too predictable"},
		{"production_rejects_repeated_secret", []string{"EZ_MODE=production", "EZ_JWT_SECRET=" + strings.Repeat("a", 64), "EZ_ENCRYPTION_KEY=" + validKey}, "auth.jwt_secret (EZ_JWT_SECRET): too predictable"},
		{"production_rejects_short_pattern_secret", []string{"EZ_MODE=production", "EZ_JWT_SECRET=" + strings.Repeat("abcd", 10), "EZ_ENCRYPTION_KEY=" + validKey}, "auth.jwt_secret (EZ_JWT_SECRET): too predictable"},
		{"development_rejects_example_secret_on_all_interfaces", []string{"EZ_JWT_SECRET=change_me_in_production", "EZ_SERVER__HOST=0.0.0.0"}, "example secret is refused when listening on 0.0.0.0"},
		{"development_rejects_example_secret_on_a_lan_address", []string{"EZ_JWT_SECRET=change_me_in_production", "EZ_SERVER__HOST=192.0.2.10"}, "example secret is refused"},
		{"rejects_login_limits_below_the_pair_limit", []string{"EZ_AUTH__LOGIN_USER_MAX_FAILURES=2"}, "auth.login_user_max_failures"},
		{"rejects_missing_config_file", []string{"EZ_CONFIG_FILE=/nonexistent/ezapi.yaml"}, `EZ_CONFIG_FILE "/nonexistent/ezapi.yaml"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := tc.env
			if !strings.HasPrefix(strings.Join(env, " "), "EZ_CONFIG_FILE") {
				env = append([]string{"EZ_CONFIG_FILE=" + os.DevNull}, env...)
			}
			_, err := app.LoadConfig(env)
			require.Error(t, err)
			var ce *app.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}

	t.Run("rejects_unknown_key_in_file", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "c.yaml")
		require.NoError(t, os.WriteFile(file, []byte("server:\n  prot: 1\n"), 0o600))
		_, err := app.LoadConfig([]string{"EZ_CONFIG_FILE=" + file})
		var ce *app.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Contains(t, err.Error(), "server.prot")
	})
}

func TestJWTSecretRules(t *testing.T) {
	t.Parallel()
	t.Run("development_generates_a_random_secret_per_start", func(t *testing.T) {
		t.Parallel()
		a, err := load(t)
		require.NoError(t, err)
		b, err := load(t)
		require.NoError(t, err)
		assert.True(t, a.Auth.JWTSecretGenerated)
		assert.GreaterOrEqual(t, len(a.Auth.JWTSecret), 32)
		assert.NotEqual(t, a.Auth.JWTSecret, b.Auth.JWTSecret, "a new secret per start")
		assert.NotEqual(t, app.ExampleJWTSecret, a.Auth.JWTSecret)
	})
	t.Run("a_configured_secret_is_kept", func(t *testing.T) {
		t.Parallel()
		cfg, err := load(t, "EZ_JWT_SECRET="+goodSecret)
		require.NoError(t, err)
		assert.False(t, cfg.Auth.JWTSecretGenerated)
		assert.Equal(t, goodSecret, cfg.Auth.JWTSecret)
	})
	t.Run("development_on_loopback_still_accepts_the_example_secret", func(t *testing.T) {
		t.Parallel()
		_, err := load(t, "EZ_JWT_SECRET="+app.ExampleJWTSecret, "EZ_SERVER__HOST=localhost")
		require.NoError(t, err)
	})
}

func TestProductionReportsEveryConfigErrorAtOnce(t *testing.T) {
	t.Parallel()
	_, err := load(t, "EZ_MODE=production", "EZ_API_PORT=70000", "EZ_LOG_LEVEL=loud")
	var ce *app.ConfigError
	require.ErrorAs(t, err, &ce)
	for _, want := range []string{"server.port (EZ_API_PORT)", "logging.level (EZ_LOG_LEVEL)",
		"auth.jwt_secret (EZ_JWT_SECRET)", "crypto.encryption_key (EZ_ENCRYPTION_KEY)"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "\n", "still one line")
}

func TestUnknownEZVariablesAreWarnedAboutWithTheClosestSetting(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, "EZ_SERVER_PORT=9000", "EZ_JWT_SECRT=x", "EZ_BOOTSTRAP_USERNAME=root", "EZ_API_PORT=9001")
	require.NoError(t, err)
	require.Len(t, cfg.Warnings, 2, cfg.Warnings)
	assert.Contains(t, cfg.Warnings, "environment variable EZ_SERVER_PORT sets nothing; did you mean EZ_SERVER__PORT (server.port)?")
	assert.Contains(t, cfg.Warnings, "environment variable EZ_JWT_SECRT sets nothing; did you mean EZ_JWT_SECRET (auth.jwt_secret)?")
}

func TestPrivateNetworksDefaultFollowsMode(t *testing.T) {
	t.Parallel()
	prod := []string{"EZ_MODE=production", "EZ_JWT_SECRET=" + goodSecret, "EZ_ENCRYPTION_KEY=" + validKey}
	cases := []struct {
		name string
		env  []string
		want bool
	}{
		{"development_allows_by_default", nil, true},
		{"production_refuses_by_default", prod, false},
		{"explicit_false_wins_in_development", []string{"EZ_PROVIDERS__ALLOW_PRIVATE_NETWORKS=false"}, false},
		{"explicit_true_wins_in_production", append(append([]string{}, prod...), "EZ_PROVIDERS__ALLOW_PRIVATE_NETWORKS=true"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := load(t, tc.env...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg.Providers.PrivateNetworksAllowed())
		})
	}
}
