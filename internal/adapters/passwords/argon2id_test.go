package passwords_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/passwords"
)

// fast keeps the suite quick; DefaultParams gets one test of its own.
func fast() passwords.Params {
	p := passwords.DefaultParams()
	p.MemoryKiB, p.Iterations = 1024, 1
	return p
}

func TestDefaultParamsAreOWASPMinimum(t *testing.T) {
	t.Parallel()
	assert.Equal(t, passwords.Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		passwords.DefaultParams())

	h := passwords.NewArgon2id(passwords.DefaultParams())
	enc, err := h.Hash("correct horse battery staple")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$"), enc)
	ok, err := h.Verify("correct horse battery staple", enc)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.False(t, h.NeedsRehash(enc))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	h := passwords.NewArgon2id(fast())
	enc, err := h.Hash("s3cret password")
	require.NoError(t, err)

	cases := []struct {
		name     string
		password string
		want     bool
	}{
		{"accepts_the_same_password", "s3cret password", true},
		{"rejects_a_wrong_password", "s3cret passwor", false},
		{"rejects_a_case_change", "S3cret password", false},
		{"rejects_the_empty_password", "", false},
		{"rejects_an_overlong_password", strings.Repeat("a", 2048), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, err := h.Verify(tc.password, enc)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ok)
		})
	}
}

func TestHashFormat(t *testing.T) {
	t.Parallel()
	h := passwords.NewArgon2id(fast())
	enc, err := h.Hash("pw")
	require.NoError(t, err)
	parts := strings.Split(enc, "$")
	require.Len(t, parts, 6)
	assert.Equal(t, []string{"", "argon2id", "v=19", "m=1024,t=1,p=1"}, parts[:4])
	assert.Len(t, parts[4], 22, "16-byte salt, unpadded base64")
	assert.Len(t, parts[5], 43, "32-byte key, unpadded base64")
	assert.NotContains(t, enc, "=$")
}

func TestHashUsesAFreshSaltEachTime(t *testing.T) {
	t.Parallel()
	h := passwords.NewArgon2id(fast())
	a, err := h.Hash("same password")
	require.NoError(t, err)
	b, err := h.Hash("same password")
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.NotEqual(t, strings.Split(a, "$")[4], strings.Split(b, "$")[4])
	for _, enc := range []string{a, b} {
		ok, err := h.Verify("same password", enc)
		require.NoError(t, err)
		assert.True(t, ok)
	}
}

func TestHashRejects(t *testing.T) {
	t.Parallel()
	zeroIterations := fast()
	zeroIterations.Iterations = 0
	zeroLanes := fast()
	zeroLanes.Parallelism = 0
	cases := []struct {
		name     string
		params   passwords.Params
		password string
	}{
		{"rejects_a_password_over_1024_bytes", fast(), strings.Repeat("x", 1025)},
		{"rejects_zero_iterations_instead_of_panicking", zeroIterations, "pw"},
		{"rejects_zero_parallelism_instead_of_panicking", zeroLanes, "pw"},
		{"rejects_zero_params", passwords.Params{}, "pw"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			enc, err := passwords.NewArgon2id(tc.params).Hash(tc.password)
			require.Error(t, err)
			assert.Empty(t, enc)
		})
	}

	t.Run("accepts_a_password_of_exactly_1024_bytes", func(t *testing.T) {
		t.Parallel()
		h := passwords.NewArgon2id(fast())
		enc, err := h.Hash(strings.Repeat("x", 1024))
		require.NoError(t, err)
		ok, err := h.Verify(strings.Repeat("x", 1024), enc)
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	t.Parallel()
	h := passwords.NewArgon2id(fast())
	good, err := h.Hash("pw")
	require.NoError(t, err)
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	with := func(version, costs string) string {
		return "$argon2id$" + version + "$" + costs + "$" + salt + "$" + key
	}

	cases := map[string]string{
		"empty":                   "",
		"plain_text":              "pw",
		"bcrypt":                  "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i_variant":         strings.Replace(good, "$argon2id$", "$argon2i$", 1),
		"too_few_fields":          "$argon2id$v=19$m=1024,t=1,p=1$" + salt,
		"too_many_fields":         good + "$extra",
		"no_leading_dollar":       strings.TrimPrefix(good, "$"),
		"trailing_newline":        good + "\n",
		"wrong_version":           with("v=16", "m=1024,t=1,p=1"),
		"version_with_garbage":    with("v=19x", "m=1024,t=1,p=1"),
		"missing_version":         with("", "m=1024,t=1,p=1"),
		"costs_out_of_order":      with("v=19", "t=1,m=1024,p=1"),
		"costs_missing_one":       with("v=19", "m=1024,t=1"),
		"costs_with_extra":        with("v=19", "m=1024,t=1,p=1,x=1"),
		"costs_with_spaces":       with("v=19", "m= 1024,t=1,p=1"),
		"costs_with_sign":         with("v=19", "m=+1024,t=1,p=1"),
		"negative_memory":         with("v=19", "m=-1,t=1,p=1"),
		"hex_memory":              with("v=19", "m=0x400,t=1,p=1"),
		"zero_memory":             with("v=19", "m=0,t=1,p=1"),
		"absurd_memory":           with("v=19", "m=4194305,t=1,p=1"),
		"memory_overflows_uint32": with("v=19", "m=4294967296,t=1,p=1"),
		"zero_iterations":         with("v=19", "m=1024,t=0,p=1"),
		"absurd_iterations":       with("v=19", "m=1024,t=101,p=1"),
		"zero_parallelism":        with("v=19", "m=1024,t=1,p=0"),
		"parallelism_over_255":    with("v=19", "m=1024,t=1,p=256"),
		"salt_not_base64":         "$argon2id$v=19$m=1024,t=1,p=1$!!!!$" + key,
		"salt_padded":             "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "==$" + key,
		"salt_empty":              "$argon2id$v=19$m=1024,t=1,p=1$$" + key,
		"key_empty":               "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "$",
		"key_too_short":           "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "$" + key[:10],
		"key_absurdly_long":       "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "$" + strings.Repeat("A", 1500),
	}
	for name, enc := range cases {
		t.Run("rejects_"+name, func(t *testing.T) {
			t.Parallel()
			var ok bool
			var err error
			require.NotPanics(t, func() { ok, err = h.Verify("pw", enc) })
			require.Error(t, err)
			assert.False(t, ok)
			assert.True(t, h.NeedsRehash(enc))
		})
	}
}

func TestOldHashesVerifyAfterParamsChange(t *testing.T) {
	t.Parallel()
	old := passwords.NewArgon2id(fast())
	enc, err := old.Hash("long-lived password")
	require.NoError(t, err)

	stronger := fast()
	stronger.MemoryKiB, stronger.Iterations, stronger.Parallelism, stronger.KeyLen = 2048, 2, 2, 24
	current := passwords.NewArgon2id(stronger)

	ok, err := current.Verify("long-lived password", enc)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = current.Verify("another password", enc)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.True(t, current.NeedsRehash(enc))

	fresh, err := current.Hash("long-lived password")
	require.NoError(t, err)
	assert.True(t, strings.Contains(fresh, "$m=2048,t=2,p=2$"), fresh)
	assert.False(t, current.NeedsRehash(fresh))
	ok, err = old.Verify("long-lived password", fresh)
	require.NoError(t, err)
	assert.True(t, ok, "verification follows the hash, not the hasher")
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	base := fast()
	enc, err := passwords.NewArgon2id(base).Hash("pw")
	require.NoError(t, err)

	change := func(f func(*passwords.Params)) passwords.Params { p := base; f(&p); return p }
	cases := []struct {
		name   string
		params passwords.Params
		want   bool
	}{
		{"same_params_need_none", base, false},
		{"more_memory_needs_one", change(func(p *passwords.Params) { p.MemoryKiB = 2048 }), true},
		{"less_memory_needs_one", change(func(p *passwords.Params) { p.MemoryKiB = 512 }), true},
		{"more_iterations_need_one", change(func(p *passwords.Params) { p.Iterations = 3 }), true},
		{"more_parallelism_needs_one", change(func(p *passwords.Params) { p.Parallelism = 4 }), true},
		{"longer_salt_needs_one", change(func(p *passwords.Params) { p.SaltLen = 32 }), true},
		{"longer_key_needs_one", change(func(p *passwords.Params) { p.KeyLen = 64 }), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, passwords.NewArgon2id(tc.params).NeedsRehash(enc))
		})
	}
}
