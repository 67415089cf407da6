package app

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The documentation of the settings must keep up with defaults(): every key
// is in config.example.yaml and in README.md's configuration table, and the
// example file changes nothing.

const (
	exampleConfigPath = "../../config.example.yaml"
	readmePath        = "../../README.md"
)

func defaultKeys() []string {
	keys := make([]string, 0, len(defaults()))
	for k := range defaults() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// flatten turns nested YAML maps into dotted keys, as koanf does.
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

func TestConfigExampleListsEverySetting(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(exampleConfigPath)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc), "config.example.yaml must be valid YAML")
	flat := map[string]any{}
	flatten("", doc, flat)

	for _, key := range defaultKeys() {
		if _, ok := flat[key]; !ok {
			t.Errorf("config.example.yaml lacks setting %q", key)
		}
	}
	for key := range flat {
		if _, ok := defaults()[key]; !ok {
			t.Errorf("config.example.yaml has %q, which is not a setting in defaults()", key)
		}
	}
}

func TestReadmeTableListsEverySetting(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(readmePath)
	require.NoError(t, err)
	// Only the table rows count: lines starting with "| `key`".
	var rows []string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "| `") {
			rows = append(rows, line)
		}
	}
	table := strings.Join(rows, "\n")
	for _, key := range defaultKeys() {
		if !strings.Contains(table, "| `"+key+"`") {
			t.Errorf("README.md's configuration table lacks a row for `%s`", key)
		}
	}
	// And no row documents a setting that no longer exists.
	for _, row := range rows {
		cells := strings.Split(row, "|")
		if len(cells) < 2 {
			continue
		}
		key := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if _, ok := defaults()[key]; !ok {
			t.Errorf("README.md's configuration table has a row for `%s`, which is not a setting in defaults()", key)
		}
	}
}

func TestConfigExampleMatchesDefaults(t *testing.T) {
	t.Parallel()
	want, err := LoadConfig([]string{"EZ_CONFIG_FILE=" + os.DevNull})
	require.NoError(t, err)
	got, err := LoadConfig([]string{"EZ_CONFIG_FILE=" + exampleConfigPath})
	require.NoError(t, err, "config.example.yaml must load")
	assert.True(t, want.Auth.JWTSecretGenerated && got.Auth.JWTSecretGenerated, "neither sets a JWT secret")
	want.Auth.JWTSecret, got.Auth.JWTSecret = "", "" // random per start
	assert.Equal(t, want, got, "config.example.yaml must hold the default values")

	// The same holds in production mode, where the mode-dependent defaults
	// (server.host, logging.format, server.cors.allow_origins) differ.
	prod := []string{"EZ_MODE=production", "EZ_JWT_SECRET=q3Vt9XkP2bLr7sZcYw1HfN8aJm4DgE6uTiO0xRvWQyK5nCjB",
		"EZ_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	want, err = LoadConfig(append([]string{"EZ_CONFIG_FILE=" + os.DevNull}, prod...))
	require.NoError(t, err)
	got, err = LoadConfig(append([]string{"EZ_CONFIG_FILE=" + exampleConfigPath}, prod...))
	require.NoError(t, err)
	assert.Equal(t, want, got, "config.example.yaml must leave the production defaults alone")
}
