package jwtcodec_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/jwtcodec"
	"github.com/ez-api/ez-api/internal/core/domain"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func codec() *jwtcodec.Codec {
	return jwtcodec.New(jwtcodec.Options{Secret: secret, Issuer: "ezapi", Audience: "ezapi-api"})
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	in := domain.AccessToken{ID: "j1", Subject: 42, Role: domain.RoleDeveloper, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	tok, err := codec().Issue(in)
	require.NoError(t, err)
	out, err := codec().Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, in.ID, out.ID)
	assert.Equal(t, in.Subject, out.Subject)
	assert.Equal(t, in.Role, out.Role)
	assert.True(t, in.IssuedAt.Equal(out.IssuedAt))
	assert.True(t, in.ExpiresAt.Equal(out.ExpiresAt))
}

func TestTokenVersionRoundTrips(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tok, err := codec().Issue(domain.AccessToken{ID: "jti-v", Subject: 7, Role: domain.RoleAdmin,
		IssuedAt: now, ExpiresAt: now.Add(time.Minute), Version: 3})
	require.NoError(t, err)
	back, err := codec().Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, int64(3), back.Version)
}

func TestIssuedClaims(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	tok, err := codec().Issue(domain.AccessToken{ID: "jti-1", Subject: 7, Role: domain.RoleAdmin,
		IssuedAt: now, ExpiresAt: now.Add(15 * time.Minute), Version: 3})
	require.NoError(t, err)

	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	var header, payload map[string]any
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &header))
	raw, err = base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &payload))

	assert.Equal(t, map[string]any{"alg": "HS256", "typ": "JWT"}, header)
	assert.Equal(t, map[string]any{
		"iss": "ezapi", "aud": "ezapi-api", "sub": "7", "jti": "jti-1", "role": "admin",
		"iat": float64(1_800_000_000), "nbf": float64(1_800_000_000), "exp": float64(1_800_000_900),
		"ver": float64(3),
	}, payload)
}

func TestIssueRejectsIncompleteTokens(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ok := domain.AccessToken{ID: "j", Subject: 1, Role: domain.RoleViewer, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	change := func(f func(*domain.AccessToken)) domain.AccessToken { t := ok; f(&t); return t }
	cases := map[string]struct {
		codec *jwtcodec.Codec
		token domain.AccessToken
	}{
		"empty_secret":     {jwtcodec.New(jwtcodec.Options{Issuer: "ezapi", Audience: "ezapi-api"}), ok},
		"missing_id":       {codec(), change(func(t *domain.AccessToken) { t.ID = "" })},
		"zero_subject":     {codec(), change(func(t *domain.AccessToken) { t.Subject = 0 })},
		"negative_subject": {codec(), change(func(t *domain.AccessToken) { t.Subject = -1 })},
		"missing_role":     {codec(), change(func(t *domain.AccessToken) { t.Role = "" })},
		"zero_expiry":      {codec(), change(func(t *domain.AccessToken) { t.ExpiresAt = time.Time{} })},
		"expiry_at_issue":  {codec(), change(func(t *domain.AccessToken) { t.ExpiresAt = t.IssuedAt })},
	}
	for name, tc := range cases {
		t.Run("rejects_"+name, func(t *testing.T) {
			t.Parallel()
			tok, err := tc.codec.Issue(tc.token)
			require.Error(t, err)
			assert.Empty(t, tok)
		})
	}
}

func TestLeeway(t *testing.T) {
	t.Parallel()
	now := time.Now()
	claims := jwt.MapClaims{"iss": "ezapi", "aud": "ezapi-api", "sub": "1", "role": "admin", "jti": "x",
		"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-10 * time.Second).Unix()}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	require.NoError(t, err)

	_, err = codec().Verify(tok)
	require.ErrorIs(t, err, domain.ErrUnauthenticated, "rejects_just_expired_without_leeway")
	lenient := jwtcodec.New(jwtcodec.Options{Secret: secret, Issuer: "ezapi", Audience: "ezapi-api", Leeway: time.Minute})
	_, err = lenient.Verify(tok)
	assert.NoError(t, err, "accepts_just_expired_within_leeway")
}

func TestRejections(t *testing.T) {
	t.Parallel()
	now := time.Now()
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "ezapi", "aud": "ezapi-api", "sub": "1", "role": "admin", "jti": "x",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return s
	}
	with := func(k string, v any) jwt.MapClaims { c := valid(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := valid(); delete(c, k); return c }
	b64 := base64.RawURLEncoding.EncodeToString
	good := sign(jwt.SigningMethodHS256, secret, valid())
	goodParts := strings.Split(good, ".")
	_, err := codec().Verify(good)
	require.NoError(t, err, "the baseline token verifies")

	// A 32-byte HMAC is 43 base64 characters carrying 258 bits; the last
	// character's low two bits are padding, so flipping one gives a second,
	// non-canonical spelling of the same signature.
	sig := []byte(goodParts[2])
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	sig[len(sig)-1] = alphabet[strings.IndexByte(alphabet, sig[len(sig)-1])^1]
	nonCanonical := goodParts[0] + "." + goodParts[1] + "." + string(sig)

	cases := map[string]string{
		"alg_none":                   b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"1","iss":"ezapi","aud":"ezapi-api","exp":99999999999,"jti":"x","role":"admin"}`)) + ".",
		"alg_none_signed":            b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + goodParts[1] + "." + goodParts[2],
		"hs512":                      sign(jwt.SigningMethodHS512, secret, valid()),
		"hs384":                      sign(jwt.SigningMethodHS384, secret, valid()),
		"rs256_header":               b64([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + goodParts[1] + "." + goodParts[2],
		"wrong_secret":               sign(jwt.SigningMethodHS256, []byte("not the secret at all, not at all"), valid()),
		"expired":                    sign(jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Minute).Unix())),
		"nbf_in_future":              sign(jwt.SigningMethodHS256, secret, with("nbf", now.Add(time.Hour).Unix())),
		"iat_in_future":              sign(jwt.SigningMethodHS256, secret, with("iat", now.Add(time.Hour).Unix())),
		"missing_exp":                sign(jwt.SigningMethodHS256, secret, without("exp")),
		"exp_as_string":              sign(jwt.SigningMethodHS256, secret, with("exp", "tomorrow")),
		"wrong_issuer":               sign(jwt.SigningMethodHS256, secret, with("iss", "other")),
		"missing_issuer":             sign(jwt.SigningMethodHS256, secret, without("iss")),
		"wrong_audience":             sign(jwt.SigningMethodHS256, secret, with("aud", "other")),
		"audience_list_without_ours": sign(jwt.SigningMethodHS256, secret, with("aud", []string{"a", "b"})),
		"sub_not_integer":            sign(jwt.SigningMethodHS256, secret, with("sub", "alice")),
		"sub_zero":                   sign(jwt.SigningMethodHS256, secret, with("sub", "0")),
		"sub_negative":               sign(jwt.SigningMethodHS256, secret, with("sub", "-5")),
		"sub_overflows":              sign(jwt.SigningMethodHS256, secret, with("sub", "9223372036854775808")),
		"sub_as_number":              sign(jwt.SigningMethodHS256, secret, with("sub", 1)),
		"missing_jti":                sign(jwt.SigningMethodHS256, secret, without("jti")),
		"missing_role":               sign(jwt.SigningMethodHS256, secret, without("role")),
		"empty_role":                 sign(jwt.SigningMethodHS256, secret, with("role", "")),
		"garbage":                    "garbage",
		"bearer_prefix":              "Bearer " + good,
		"dots":                       strings.Repeat(".", 100_000),
		"two_dots":                   "..",
		"oversized":                  good + strings.Repeat("A", 8<<10),
		"four_segments":              good + ".AAAA",
		"payload_not_json":           goodParts[0] + "." + b64([]byte("not json")) + "." + goodParts[2],
		"truncated":                  good[:len(good)-5],
		"trailing_space":             good + " ",
		"trailing_newline":           good + "\n",
		"trailing_crlf":              good + "\r\n",
		"inner_newline":              goodParts[0] + "." + goodParts[1][:5] + "\n" + goodParts[1][5:] + "." + goodParts[2],
		"padded_segments":            goodParts[0] + "." + goodParts[1] + "." + goodParts[2] + "=",
		"non_canonical_signature":    nonCanonical,
		"empty":                      "",
	}
	for name, tok := range cases {
		t.Run("rejects_"+name, func(t *testing.T) {
			t.Parallel()
			var err error
			require.NotPanics(t, func() { _, err = codec().Verify(tok) })
			require.Error(t, err)
			assert.ErrorIs(t, err, domain.ErrUnauthenticated)
			if len(tok) > 8 {
				assert.NotContains(t, err.Error(), tok, "the token is not echoed")
			}
		})
	}
}

func TestEmptySecretVerifiesNothing(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "ezapi", "aud": "ezapi-api", "sub": "1",
		"role": "admin", "jti": "x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString([]byte{})
	require.NoError(t, err)
	_, err = jwtcodec.New(jwtcodec.Options{Issuer: "ezapi", Audience: "ezapi-api"}).Verify(tok)
	assert.ErrorIs(t, err, domain.ErrUnauthenticated)
}
