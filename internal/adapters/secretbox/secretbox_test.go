package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/secretbox"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func mustKeyring(t *testing.T, current uint32, keys map[uint32][]byte) *secretbox.Keyring {
	t.Helper()
	k, err := secretbox.NewKeyring(current, keys)
	require.NoError(t, err)
	return k
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rings := map[string]*secretbox.Keyring{
		"configured":  mustKeyring(t, 1, map[uint32][]byte{1: key(1)}),
		"development": secretbox.NewDevelopmentKeyring(),
	}
	plaintexts := map[string][]byte{
		"api_key": []byte("sk-1234567890abcdef3a9"),
		"empty":   {},
		"binary":  {0, 1, 2, 0xff},
	}
	for rn, ring := range rings {
		for pn, pt := range plaintexts {
			t.Run(rn+"_"+pn, func(t *testing.T) {
				t.Parallel()
				ct, err := ring.Encrypt(pt, []byte("provider:1"))
				require.NoError(t, err)
				assert.False(t, bytes.Contains(ct, []byte("sk-1234567890")), "plaintext visible in ciphertext")
				got, err := ring.Decrypt(ct, []byte("provider:1"))
				require.NoError(t, err)
				assert.Equal(t, string(pt), string(got))
				assert.False(t, ring.Stale(ct))
			})
		}
	}
}

func TestDevelopmentKeyringIsVersionZero(t *testing.T) {
	t.Parallel()
	ring := secretbox.NewDevelopmentKeyring()
	assert.Equal(t, uint32(0), ring.CurrentVersion())
	ct, err := ring.Encrypt([]byte("x"), nil)
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0, 0, 0}, ct[1:5])

	// A production keyring does not accept development ciphertexts.
	prod := mustKeyring(t, 1, map[uint32][]byte{1: key(1)})
	_, err = prod.Decrypt(ct, nil)
	require.Error(t, err)
	assert.True(t, prod.Stale(ct))
}

func TestLayout(t *testing.T) {
	t.Parallel()
	ring := mustKeyring(t, 0x01020304, map[uint32][]byte{0x01020304: key(7)})
	pt := []byte("hello secret")
	ct, err := ring.Encrypt(pt, nil)
	require.NoError(t, err)
	require.Len(t, ct, 1+4+12+len(pt)+16)
	assert.Equal(t, byte(0x01), ct[0], "format byte")
	assert.Equal(t, uint32(0x01020304), binary.BigEndian.Uint32(ct[1:5]), "key version")
	assert.Equal(t, []byte{1, 2, 3, 4}, ct[1:5], "big-endian")
}

func TestAdditionalDataMismatchFails(t *testing.T) {
	t.Parallel()
	ring := mustKeyring(t, 1, map[uint32][]byte{1: key(1)})
	ct, err := ring.Encrypt([]byte("sk-secret-value"), []byte("provider:1"))
	require.NoError(t, err)

	for name, ad := range map[string][]byte{
		"other_row": []byte("provider:2"),
		"nil":       nil,
		"prefix":    []byte("provider:"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ring.Decrypt(ct, ad)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.NotContains(t, err.Error(), "sk-secret-value")
		})
	}
}

func TestTamperedByteAnywhereFails(t *testing.T) {
	t.Parallel()
	// Versions 1 and 3 share a key, so a flipped version bit lands on a key that
	// would open the payload: only authenticating the header catches that.
	ring := mustKeyring(t, 1, map[uint32][]byte{1: key(1), 3: key(1), 5: key(5)})
	ct, err := ring.Encrypt([]byte("sk-secret-value"), []byte("provider:1"))
	require.NoError(t, err)
	for i := range ct {
		for _, mask := range []byte{0x01, 0x02, 0x80} {
			bad := bytes.Clone(ct)
			bad[i] ^= mask
			got, err := ring.Decrypt(bad, []byte("provider:1"))
			require.Errorf(t, err, "byte %d ^ %#x accepted", i, mask)
			assert.Nil(t, got)
			assert.NotContains(t, err.Error(), "sk-secret-value")
		}
	}
}

func TestMalformedCiphertextFails(t *testing.T) {
	t.Parallel()
	ring := mustKeyring(t, 1, map[uint32][]byte{1: key(1)})
	good, err := ring.Encrypt([]byte("x"), nil)
	require.NoError(t, err)
	wrongFormat := bytes.Clone(good)
	wrongFormat[0] = 0x02

	tests := []struct {
		name  string
		ct    []byte
		want  string
		stale bool
	}{
		{"rejects_nil", nil, "too short", true},
		{"rejects_header_only", good[:5], "too short", true},
		{"rejects_missing_tag_byte", good[:1+4+12+15], "too short", true},
		{"rejects_wrong_format_byte", wrongFormat, "format", true},
		{"rejects_truncated_ciphertext", good[:len(good)-1], "authentication failed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.NotPanics(t, func() {
				_, err := ring.Decrypt(tt.ct, nil)
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.want)
			})
			// Stale only reads the header; a well-formed header under the current version is not stale.
			assert.Equal(t, tt.stale, ring.Stale(tt.ct))
		})
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old := mustKeyring(t, 1, map[uint32][]byte{1: key(1)})
	oldCT, err := old.Encrypt([]byte("sk-old"), []byte("provider:1"))
	require.NoError(t, err)

	rotated := mustKeyring(t, 2, map[uint32][]byte{1: key(1), 2: key(2)})
	got, err := rotated.Decrypt(oldCT, []byte("provider:1"))
	require.NoError(t, err)
	assert.Equal(t, "sk-old", string(got))
	assert.True(t, rotated.Stale(oldCT), "old version is stale after rotation")

	newCT, err := rotated.Encrypt([]byte("sk-new"), []byte("provider:1"))
	require.NoError(t, err)
	assert.Equal(t, uint32(2), binary.BigEndian.Uint32(newCT[1:5]))
	assert.False(t, rotated.Stale(newCT))

	// Once the old key is dropped, its ciphertexts no longer decrypt.
	dropped := mustKeyring(t, 2, map[uint32][]byte{2: key(2)})
	_, err = dropped.Decrypt(oldCT, []byte("provider:1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown key version 1")
}

func TestRandomNonce(t *testing.T) {
	t.Parallel()
	ring := mustKeyring(t, 1, map[uint32][]byte{1: key(1)})
	a, err := ring.Encrypt([]byte("same"), []byte("ad"))
	require.NoError(t, err)
	b, err := ring.Encrypt([]byte("same"), []byte("ad"))
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.NotEqual(t, a[5:17], b[5:17], "nonces differ")
}

func TestNewKeyringErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		current uint32
		keys    map[uint32][]byte
		want    string
	}{
		{"rejects_missing_current", 2, map[uint32][]byte{1: key(1)}, "current key version 2 is not configured"},
		{"rejects_short_key", 1, map[uint32][]byte{1: key(1)[:16]}, "16 bytes, want 32"},
		{"rejects_short_old_key", 1, map[uint32][]byte{1: key(1), 2: key(2)[:31]}, "key version 2 is 31 bytes"},
		{"rejects_version_zero_current", 0, map[uint32][]byte{0: key(1)}, "version 0"},
		{"rejects_version_zero_old", 1, map[uint32][]byte{0: key(0), 1: key(1)}, "version 0"},
		{"rejects_no_keys", 1, nil, "not configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := secretbox.NewKeyring(tt.current, tt.keys)
			require.Error(t, err)
			assert.Nil(t, k)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	k1, k2, k3 := b64(key(1)), b64(key(2)), b64(key(3))

	t.Run("accepts_current_only", func(t *testing.T) {
		t.Parallel()
		ring, err := secretbox.ParseKeyring(k3, 3, "")
		require.NoError(t, err)
		assert.Equal(t, uint32(3), ring.CurrentVersion())
	})

	t.Run("accepts_previous_keys_that_decrypt_old_ciphertexts", func(t *testing.T) {
		t.Parallel()
		v1 := mustKeyring(t, 1, map[uint32][]byte{1: key(1)})
		ct, err := v1.Encrypt([]byte("sk-old"), []byte("row"))
		require.NoError(t, err)

		ring, err := secretbox.ParseKeyring(k3, 3, " 1:"+k1+" , 2:"+k2+" ")
		require.NoError(t, err)
		got, err := ring.Decrypt(ct, []byte("row"))
		require.NoError(t, err)
		assert.Equal(t, "sk-old", string(got))
		assert.True(t, ring.Stale(ct))
	})

	short := b64(key(9)[:16])
	tests := []struct {
		name     string
		current  string
		version  uint32
		previous string
		want     string
	}{
		{"rejects_bad_base64_current", "not*base64!", 1, "", "current key: not valid standard base64"},
		{"rejects_urlsafe_base64_current", strings.ReplaceAll(b64(bytes.Repeat([]byte{0xfb}, 32)), "+", "-"), 1, "", "not valid standard base64"},
		{"rejects_short_current", short, 1, "", "current key: decodes to 16 bytes, want 32"},
		{"rejects_empty_current", "", 1, "", "decodes to 0 bytes"},
		{"rejects_version_zero_current", k1, 0, "", "version 0"},
		{"rejects_entry_without_colon", k3, 3, k1, "previous key entry 1: want version:base64key"},
		{"rejects_non_numeric_version", k3, 3, "1:" + k1 + ",two:" + k2, "previous key entry 2: version must be an integer"},
		{"rejects_version_zero_previous", k3, 3, "0:" + k1, "previous key entry 1: version must be an integer"},
		{"rejects_negative_version", k3, 3, "-1:" + k1, "version must be an integer"},
		{"rejects_version_overflow", k3, 3, "4294967296:" + k1, "version must be an integer"},
		{"rejects_empty_entry", k3, 3, "1:" + k1 + ",", "previous key entry 2: want version:base64key"},
		{"rejects_bad_base64_previous", k3, 3, "1:%%%", "previous key entry 1 (version 1): not valid standard base64"},
		{"rejects_short_previous", k3, 3, "1:" + short, "previous key entry 1 (version 1): decodes to 16 bytes"},
		{"rejects_duplicate_previous_version", k3, 3, "1:" + k1 + ",1:" + k2, "previous key entry 2: duplicate key version 1"},
		{"rejects_previous_duplicating_current", k3, 3, "3:" + k2, "duplicate key version 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ring, err := secretbox.ParseKeyring(tt.current, tt.version, tt.previous)
			require.Error(t, err)
			assert.Nil(t, ring)
			assert.Contains(t, err.Error(), tt.want)
			for _, secret := range []string{k1, k2, k3, short} {
				assert.NotContains(t, err.Error(), secret, "error echoes key material")
			}
		})
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"empty_is_empty", "", ""},
		{"one_char_is_ellipsis", "a", "…"},
		{"seven_chars_is_ellipsis", "abcdefg", "…"},
		{"eight_chars_show_last_two", "abcdefgh", "…gh"},
		{"twelve_chars_show_only_two", "abcdefghijkl", "…kl"},
		{"sixteen_chars_show_last_four", "abcdefghijklmnop", "…mnop"},
		{"short_api_key_shows_last_four", "sk-1234567890abcdef3a9", "…f3a9"},
		{"long_api_key_shows_both_ends", "sk-proj-1234567890abcdefghijklmnopqrstf3a9", "sk-p…f3a9"},
		{"multibyte_runes_are_not_split", strings.Repeat("ключ", 8), "ключ…ключ"},
		{"multibyte_short_counts_runes", "日本語テキストです", "…です"},
		{"seven_multibyte_runes_is_ellipsis", "日本語テキスト", "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := secretbox.Mask(tt.in)
			assert.Equal(t, tt.want, got)
			shown := utf8.RuneCountInString(strings.ReplaceAll(got, "…", ""))
			assert.LessOrEqual(t, 4*shown, utf8.RuneCountInString(tt.in), "at most a quarter of the secret is shown")
		})
	}
}
