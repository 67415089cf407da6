package lifecycle_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	be "encoding/binary"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

// keyVersion reads the key version out of a stored ciphertext (format byte,
// then the version as a big-endian uint32).
func keyVersion(ct []byte) uint32 { return be.BigEndian.Uint32(ct[1:5]) }

func TestSecretsRotateReencryptsUnderTheNewestKey(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	v1 := func(c *app.Config) { c.Crypto.EncryptionKey, c.Crypto.KeyVersion = k1, 1 }
	env := testenv.Start(t, v1)
	admin := env.AdminToken(t)
	ctx := context.Background()
	secrets := map[int64]string{}
	for _, name := range []string{"rot-a", "rot-b", "rot-c"} {
		key := "sk-" + name + "-0123456789abcdef"
		res, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{
			Name: name, Type: apiclient.ProviderTypeOpenai, ApiKey: &key, Models: []string{"m"}}, testenv.WithToken(admin))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		secrets[res.JSON201.Id] = key
	}

	rotate := func() string {
		cmd := exec.Command(binary, "secrets", "rotate")
		cmd.Env = append(testenv.Environ(), "EZ_ENCRYPTION_KEY="+k2, "EZ_CRYPTO__KEY_VERSION=2", "EZ_CRYPTO__PREVIOUS_KEYS=1:"+k1)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	assert.Contains(t, rotate(), "re-encrypted 3 provider key(s) under key version 2")
	assert.Contains(t, rotate(), "re-encrypted 0 provider key(s)", "idempotent")

	var rows []struct {
		ID int64  `db:"id"`
		CT []byte `db:"api_key_ciphertext"`
	}
	require.NoError(t, env.DB.Select(&rows, `SELECT id, api_key_ciphertext FROM providers WHERE name LIKE 'rot-%' ORDER BY id`))
	require.Len(t, rows, 3)

	// Only the new key is needed now.
	cfg, err := app.LoadConfig(append(testenv.Environ(), "EZ_ENCRYPTION_KEY="+k2, "EZ_CRYPTO__KEY_VERSION=2"))
	require.NoError(t, err)
	adm, cleanup, err := app.InitializeAdmin(cfg, io.Discard)
	require.NoError(t, err)
	defer cleanup()
	for _, r := range rows {
		assert.Equal(t, uint32(2), keyVersion(r.CT))
		plain, err := adm.Providers.DecryptKey(r.ID, r.CT)
		require.NoError(t, err)
		assert.Equal(t, secrets[r.ID], plain)
	}

	t.Run("a_ciphertext_copied_to_another_row_does_not_decrypt", func(t *testing.T) {
		_, err := adm.Providers.DecryptKey(rows[1].ID, rows[0].CT)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), secrets[rows[0].ID])
	})

	t.Run("rotate_refuses_a_malformed_keyring", func(t *testing.T) {
		cmd := exec.Command(binary, "secrets", "rotate")
		cmd.Env = append(testenv.Environ(), "EZ_ENCRYPTION_KEY="+k2, "EZ_CRYPTO__KEY_VERSION=2", "EZ_CRYPTO__PREVIOUS_KEYS=1:not-base64!")
		out, err := cmd.CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "crypto")
		assert.False(t, strings.Contains(string(out), k2), "no key material in errors")
	})
}
