package app_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ez-api/ez-api/internal/app"
)

// maxFuzzConfigFile bounds the YAML the fuzzer writes, to keep executions fast.
const maxFuzzConfigFile = 16 << 10

// FuzzLoadConfig loads a YAML file with any contents plus up to three
// environment entries ("NAME=value"). Invariants: LoadConfig never panics;
// its error is nil or a *ConfigError whose message is one line (the CLI
// prints it as one) that says what is wrong rather than being a bare
// heading ending in ":"; a nil error comes with a Config that passes
// Validate, has its mode defaults applied, and is the same when loaded
// again.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte("server:\n  port: 9000\n"), "EZ_MODE=development", "", "")
	f.Fuzz(func(t *testing.T, doc []byte, env1, env2, env3 string) {
		if len(doc) > maxFuzzConfigFile {
			return
		}
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		// EZ_CONFIG_FILE first: the first entry of a name wins.
		environ := []string{"EZ_CONFIG_FILE=" + path}
		for _, kv := range []string{env1, env2, env3} {
			if kv != "" {
				environ = append(environ, kv)
			}
		}

		cfg, err := app.LoadConfig(environ)
		if err != nil {
			var ce *app.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *ConfigError: %v\nyaml %q env %q", err, err, doc, environ[1:])
			}
			if ce.Msg == "" || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("configuration error is not one line: %q\nyaml %q env %q", err.Error(), doc, environ[1:])
			}
			// The one line must say what is wrong, not only announce a list.
			if strings.HasSuffix(strings.TrimSpace(ce.Msg), ":") {
				t.Fatalf("configuration error is only a heading: %q\nyaml %q env %q", err.Error(), doc, environ[1:])
			}
			return
		}
		if verr := cfg.Validate(); verr != nil {
			t.Fatalf("loaded config fails Validate: %v", verr)
		}
		if cfg.Server.Host == "" || (cfg.Logging.Format != "text" && cfg.Logging.Format != "json") ||
			cfg.Providers.AllowPrivateNetworks == nil {
			t.Fatalf("mode defaults not applied: %+v", cfg)
		}
		again, err := app.LoadConfig(environ)
		if err == nil && cfg.Auth.JWTSecretGenerated {
			again.Auth.JWTSecret = cfg.Auth.JWTSecret // development's secret is random per load
		}
		if err != nil || !reflect.DeepEqual(cfg, again) {
			t.Fatalf("second load differs: %v\n%+v\n%+v", err, cfg, again)
		}
	})
}
