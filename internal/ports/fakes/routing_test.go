package fakes_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
	"github.com/ez-api/ez-api/internal/ports/fakes"
	"github.com/ez-api/ez-api/internal/ports/repotest"
)

func TestRoutingFakesKeepThePortContracts(t *testing.T) {
	t.Parallel()
	t.Run("providers", func(t *testing.T) {
		t.Parallel()
		repotest.ProviderRepository(t, func(*testing.T) (ports.ProviderRepository, ports.RouteGroupRepository) {
			groups := fakes.NewRouteGroups()
			return fakes.NewProviders(groups), groups
		})
	})
	t.Run("models", func(t *testing.T) {
		t.Parallel()
		repotest.ModelRepository(t, func(*testing.T) ports.ModelRepository { return fakes.NewModels() })
	})
	t.Run("bindings", func(t *testing.T) {
		t.Parallel()
		repotest.BindingRepository(t, func(*testing.T) (ports.BindingRepository, ports.ModelRepository) {
			models := fakes.NewModels()
			return fakes.NewBindings(models), models
		})
	})
	t.Run("binding_resolutions", func(t *testing.T) {
		t.Parallel()
		repotest.BindingResolutionStore(t, func(*testing.T) (ports.BindingResolutionStore, ports.BindingRepository, ports.ModelRepository) {
			models := fakes.NewModels()
			bindings := fakes.NewBindings(models)
			return fakes.NewBindingResolutions(bindings), bindings, models
		})
	})
	t.Run("changes", func(t *testing.T) {
		t.Parallel()
		repotest.ChangeRecorder(t, func(*testing.T) ports.ChangeRecorder { return &fakes.Changes{} })
	})
}

func TestCipher(t *testing.T) {
	t.Parallel()
	c := &fakes.Cipher{}
	ct, err := c.Encrypt([]byte("sk-secret"), []byte("provider:1"))
	require.NoError(t, err)
	assert.NotContains(t, string(ct), "sk-secret", "the plaintext does not appear as is")
	assert.False(t, c.Stale(ct))

	cases := []struct {
		name string
		ct   []byte
		aad  string
		want string // "" means an error
	}{
		{"opens_with_its_own_additional_data", ct, "provider:1", "sk-secret"},
		{"refuses_another_rows_additional_data", ct, "provider:2", ""},
		{"refuses_a_malformed_ciphertext", []byte("garbage"), "provider:1", ""},
		{"refuses_an_unknown_key_version", append([]byte("v9:"), ct[3:]...), "provider:1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plain, err := c.Decrypt(tc.ct, []byte(tc.aad))
			if tc.want == "" {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(plain))
		})
	}

	t.Run("rotation_makes_older_ciphertexts_stale_but_readable", func(t *testing.T) {
		t.Parallel()
		c := &fakes.Cipher{}
		old, err := c.Encrypt([]byte("k"), []byte("a"))
		require.NoError(t, err)
		c.Rotate()
		assert.True(t, c.Stale(old))
		plain, err := c.Decrypt(old, []byte("a"))
		require.NoError(t, err)
		assert.Equal(t, "k", string(plain))
		fresh, err := c.Encrypt(plain, []byte("a"))
		require.NoError(t, err)
		assert.False(t, c.Stale(fresh))
		assert.True(t, c.Stale([]byte("garbage")), "a malformed ciphertext is stale")
	})
}

func TestGuard(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"accepts_https", "https://api.example.com/v1", false, true},
		{"accepts_http", "http://api.example.com", false, true},
		{"rejects_other_schemes", "ftp://api.example.com", false, false},
		{"rejects_a_bare_host", "api.example.com", false, false},
		{"rejects_loopback", "http://127.0.0.1:8080", false, false},
		{"rejects_cloud_metadata", "http://169.254.169.254/latest", false, false},
		{"allows_loopback_when_private_is_allowed", "http://127.0.0.1:8080", true, true},
		{"rejects_other_schemes_even_when_private_is_allowed", "file:///etc/passwd", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := fakes.Guard{AllowPrivate: tc.allowPrivate}.CheckUpstreamURL(context.Background(), tc.url)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "base_url", ve.Fields[0].Field)
		})
	}
}
