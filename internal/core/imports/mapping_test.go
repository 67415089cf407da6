package imports

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ez-api/ez-api/internal/core/domain"
)

func TestMapType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		want     string
		known    bool
		disabled bool
		baseURL  string
	}{
		{in: "openai", want: "openai", known: true},
		{in: " OpenAI ", want: "openai", known: true},
		{in: "anthropic", want: "anthropic", known: true},
		{in: "deepseek", want: "compatible", known: true, baseURL: "https://api.deepseek.com/v1"},
		{in: "ollama", want: "compatible", known: true},
		{in: "suno", want: "compatible", known: true, disabled: true},
		{in: "custom", want: "compatible", known: true, disabled: true},
		{in: "azure", want: "compatible", known: true, disabled: true},
		{in: "midjourney", want: "compatible", known: false, disabled: true},
		{in: "", want: "compatible", known: false, disabled: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			r, known := mapType(tt.in)
			assert.Equal(t, tt.want, r.Type)
			assert.Equal(t, tt.known, known)
			assert.Equal(t, tt.disabled, r.Disable || !known)
			assert.Equal(t, tt.baseURL, r.DefaultBaseURL)
			if r.Disable || !known {
				assert.NotEmpty(t, r.Reason)
			}
			assert.Contains(t, domain.ProviderTypes, r.Type, "only types the balancer knows")
		})
	}
}

func TestKeyHashes(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"abc123", "sk-abc123", " abc123 "} {
		primary, alias := keyHashes(tok)
		assert.Equal(t, domain.HashToken("sk-abc123"), primary, tok)
		assert.Equal(t, domain.HashToken("abc123"), alias, tok)
	}
	assert.Equal(t, "sk-abc1", displayPrefix("abc123"))
}

func TestParseIP(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"10.0.0.7": "10.0.0.7/32", "192.168.1.9/24": "192.168.1.0/24",
		"::1": "::1/128", " 10.1.0.0/16 ": "10.1.0.0/16"} {
		got, ok := parseIP(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"localhost", "10.0.0.0/33", "*"} {
		_, ok := parseIP(bad)
		assert.False(t, ok, bad)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte(`{"version":"1.0.0","source":{"type":"newapi"},"data":{"keys":[{"master_ref":"a","original_token":"x"}]}}`))
	assert.NoError(t, err)
	assert.Len(t, f.Data.Keys, 1)
	for name, body := range map[string]string{
		"unknown_field": `{"version":"1.0.0","data":{},"nope":1}`,
		"no_data":       `{"version":"1.0.0"}`,
		"version_2":     `{"version":"2.0.0","data":{}}`,
		"not_json":      `{`,
		"trailing":      `{"version":"1.0.0","data":{}} {}`,
	} {
		_, err := Parse([]byte(body))
		assert.ErrorIs(t, err, domain.ErrInvalid, name)
	}
}
