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
			"EZ_JWT_SECRET=" + strings.Repeat("s", 40), "EZ_ENCRYPTION_KEY=" + validKey})
		require.NoError(t, err)
		assert.Equal(t, "0.0.0.0:8080", cfg.ListenAddr())
		assert.Equal(t, "json", cfg.Logging.Format)
		assert.Empty(t, cfg.Server.CORS.AllowOrigins, "production CORS allows nothing by default")
	})
}

func TestLoadConfigRejects(t *testing.T) {
	t.Parallel()
	prodOK := []string{"EZ_MODE=production", "EZ_JWT_SECRET=" + strings.Repeat("s", 40), "EZ_ENCRYPTION_KEY=" + validKey}
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"rejects_non_numeric_port", []string{"EZ_API_PORT=abc"}, `server.port (EZ_API_PORT): "abc" is not an integer`},
		{"rejects_port_out_of_range", []string{"EZ_API_PORT=70000"}, "server.port (EZ_API_PORT): 70000 is outside 0..65535"},
		{"rejects_unparseable_duration", []string{"EZ_SERVER__SHUTDOWN_TIMEOUT=soon"}, `server.shutdown_timeout (EZ_SERVER__SHUTDOWN_TIMEOUT): "soon" is not a duration`},
		{"rejects_unknown_mode", []string{"EZ_MODE=staging"}, `mode (EZ_MODE): "staging" is not one of development, production`},
		{"rejects_unknown_level", []string{"EZ_LOG_LEVEL=loud"}, "logging.level (EZ_LOG_LEVEL)"},
		{"rejects_bad_boolean", []string{"EZ_POSTGRES__AUTO_MIGRATE=perhaps"}, `postgres.auto_migrate (EZ_POSTGRES__AUTO_MIGRATE): "perhaps" is not a boolean`},
		{"rejects_half_tls", []string{"EZ_SERVER__TLS__CERT_FILE=/c.pem"}, "server.tls: cert_file and key_file must be set together"},
		{"rejects_malformed_encryption_key", []string{"EZ_ENCRYPTION_KEY=short"}, "crypto.encryption_key (EZ_ENCRYPTION_KEY): must be 32 bytes"},
		{"production_rejects_example_secret", []string{"EZ_MODE=production", "EZ_ENCRYPTION_KEY=" + validKey}, "auth.jwt_secret (EZ_JWT_SECRET): production mode"},
		{"production_rejects_short_secret", []string{"EZ_MODE=production", "EZ_JWT_SECRET=short", "EZ_ENCRYPTION_KEY=" + validKey}, "auth.jwt_secret (EZ_JWT_SECRET)"},
		{"production_requires_encryption_key", []string{"EZ_MODE=production", "EZ_JWT_SECRET=" + strings.Repeat("s", 40)}, "crypto.encryption_key (EZ_ENCRYPTION_KEY): production mode needs an encryption key"},
		{"rejects_wildcard_origin_with_credentials", append(prodOK, "EZ_SERVER__CORS__ALLOW_ORIGINS=*", "EZ_SERVER__CORS__ALLOW_CREDENTIALS=true"), "allow_credentials cannot be combined"},
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

func TestPrivateNetworksDefaultFollowsMode(t *testing.T) {
	t.Parallel()
	prod := []string{"EZ_MODE=production", "EZ_JWT_SECRET=" + strings.Repeat("s", 40), "EZ_ENCRYPTION_KEY=" + validKey}
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
