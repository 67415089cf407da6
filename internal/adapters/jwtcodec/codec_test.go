package jwtcodec_test

import (
	"encoding/base64"
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
	assert.True(t, in.ExpiresAt.Equal(out.ExpiresAt))
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

	cases := map[string]string{
		"alg_none":        b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"1","iss":"ezapi","aud":"ezapi-api","exp":99999999999,"jti":"x","role":"admin"}`)) + ".",
		"hs512":           sign(jwt.SigningMethodHS512, secret, valid()),
		"rs256_header":    b64([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + strings.Split(good, ".")[1] + "." + strings.Split(good, ".")[2],
		"wrong_secret":    sign(jwt.SigningMethodHS256, []byte("not the secret at all, not at all"), valid()),
		"expired":         sign(jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Minute).Unix())),
		"nbf_in_future":   sign(jwt.SigningMethodHS256, secret, with("nbf", now.Add(time.Hour).Unix())),
		"missing_exp":     sign(jwt.SigningMethodHS256, secret, without("exp")),
		"wrong_issuer":    sign(jwt.SigningMethodHS256, secret, with("iss", "other")),
		"wrong_audience":  sign(jwt.SigningMethodHS256, secret, with("aud", "other")),
		"sub_not_integer": sign(jwt.SigningMethodHS256, secret, with("sub", "alice")),
		"missing_jti":     sign(jwt.SigningMethodHS256, secret, without("jti")),
		"garbage":         "garbage",
		"dots":            strings.Repeat(".", 100_000),
		"truncated":       good[:len(good)-5],
		"trailing_space":  good + " ",
		"empty":           "",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := codec().Verify(tok)
			require.Error(t, err)
			assert.ErrorIs(t, err, domain.ErrUnauthenticated)
			if len(tok) > 8 {
				assert.NotContains(t, err.Error(), tok, "the token is not echoed")
			}
		})
	}
}
