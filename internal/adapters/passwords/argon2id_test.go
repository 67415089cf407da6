package passwords_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/passwords"
)

var fast = passwords.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	h := passwords.NewArgon2id(passwords.DefaultParams())
	enc, err := h.Hash("correct horse battery staple")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$"))
	ok, err := h.Verify("correct horse battery staple", enc)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = h.Verify("correct horse battery stapler", enc)
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestSaltsDiffer(t *testing.T) {
	t.Parallel()
	h := passwords.NewArgon2id(fast)
	a, err := h.Hash("same")
	require.NoError(t, err)
	b, err := h.Hash("same")
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
}

func TestOldParametersStillVerify(t *testing.T) {
	t.Parallel()
	old := passwords.NewArgon2id(fast)
	enc, err := old.Hash("pw-0123456789")
	require.NoError(t, err)
	cur := passwords.NewArgon2id(passwords.Params{MemoryKiB: 2048, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32})
	ok, err := cur.Verify("pw-0123456789", enc)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.True(t, cur.NeedsRehash(enc))
	assert.False(t, old.NeedsRehash(enc))
}

func TestMalformedHashesAreErrorsNeverMatches(t *testing.T) {
	t.Parallel()
	h := passwords.NewArgon2id(fast)
	for name, enc := range map[string]string{
		"empty":           "",
		"bcrypt":          "$2a$10$abcdefghijklmnopqrstuv",
		"wrong_version":   "$argon2id$v=18$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"huge_memory":     "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"huge_iterations": "$argon2id$v=19$m=1024,t=100000,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"zero_lanes":      "$argon2id$v=19$m=1024,t=1,p=0$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"bad_base64":      "$argon2id$v=19$m=1024,t=1,p=1$!!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"short_key":       "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5",
	} {
		ok, err := h.Verify("anything", enc)
		assert.Error(t, err, name)
		assert.False(t, ok, name)
	}
}

func TestRejectsOverlongPasswords(t *testing.T) {
	t.Parallel()
	_, err := passwords.NewArgon2id(fast).Hash(strings.Repeat("x", 1025))
	assert.Error(t, err)
}
