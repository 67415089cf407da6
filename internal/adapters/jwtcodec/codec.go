// Package jwtcodec issues and verifies operator access tokens: HS256 JWTs
// (github.com/golang-jwt/jwt/v5) with a fixed algorithm list and required
// exp, iss and aud.
package jwtcodec

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Options configures the codec.
type Options struct {
	Secret   []byte
	Issuer   string
	Audience string
	Leeway   time.Duration
}

// Codec implements ports.AccessTokenCodec.
type Codec struct {
	o      Options
	parser *jwt.Parser
}

var _ ports.AccessTokenCodec = (*Codec)(nil)

// maxTokenLen rejects absurd tokens before any decoding.
const maxTokenLen = 8 << 10

type claims struct {
	jwt.RegisteredClaims
	Role string `json:"role"`
	// Version is the operator's token version (absent: 0).
	Version int64 `json:"ver,omitempty"`
}

// New builds a codec.
func New(o Options) *Codec {
	return &Codec{o: o, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(o.Leeway),
		// Reject non-canonical base64 (non-zero trailing bits), so one
		// signature has one spelling.
		jwt.WithStrictDecoding(),
	)}
}

// Issue implements ports.AccessTokenCodec.
func (c *Codec) Issue(t domain.AccessToken) (string, error) {
	switch {
	case len(c.o.Secret) == 0:
		return "", errors.New("sign access token: empty secret")
	case t.ID == "" || t.Subject <= 0 || t.Role == "":
		return "", errors.New("sign access token: id, subject and role are required")
	case !t.ExpiresAt.After(t.IssuedAt):
		return "", errors.New("sign access token: expiry must follow issue time")
	}
	// MapClaims rather than RegisteredClaims: jwt.ClaimStrings would encode a
	// single audience as an array unless a package-level switch is flipped.
	cl := jwt.MapClaims{
		"iss":  c.o.Issuer,
		"aud":  c.o.Audience,
		"sub":  strconv.FormatInt(t.Subject, 10),
		"exp":  t.ExpiresAt.Unix(),
		"iat":  t.IssuedAt.Unix(),
		"nbf":  t.IssuedAt.Unix(),
		"jti":  t.ID,
		"role": string(t.Role),
		"ver":  t.Version,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, cl).SignedString(c.o.Secret)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}

func rejected(reason string) error {
	return fmt.Errorf("access token %s: %w", reason, domain.ErrUnauthenticated)
}

// Verify implements ports.AccessTokenCodec.
func (c *Codec) Verify(token string) (domain.AccessToken, error) {
	if len(token) == 0 || len(token) > maxTokenLen {
		return domain.AccessToken{}, rejected("size")
	}
	// The base64 decoder skips CR and LF, so without this a token with a
	// newline appended (or inserted) would still verify.
	if !compact(token) {
		return domain.AccessToken{}, rejected("encoding")
	}
	if len(c.o.Secret) == 0 {
		return domain.AccessToken{}, rejected("unverifiable")
	}
	var cl claims
	_, err := c.parser.ParseWithClaims(token, &cl, c.key)
	if err != nil {
		return domain.AccessToken{}, rejected(reason(err))
	}
	sub, err := strconv.ParseInt(cl.Subject, 10, 64)
	if err != nil || sub <= 0 || cl.ID == "" || cl.Role == "" || cl.Version < 0 {
		return domain.AccessToken{}, rejected("claims")
	}
	out := domain.AccessToken{ID: cl.ID, Subject: sub, Role: domain.Role(cl.Role), ExpiresAt: cl.ExpiresAt.Time, Version: cl.Version}
	if cl.IssuedAt != nil {
		out.IssuedAt = cl.IssuedAt.Time
	}
	return out, nil
}

// key checks the method type as well as the alg list, so an HMAC secret is
// never handed to another algorithm family.
func (c *Codec) key(t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
		return nil, errors.New("unexpected signing method")
	}
	return c.o.Secret, nil
}

// reason names a parse failure without echoing the token.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not yet valid"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "signature"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "issuer or audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "claims"
	}
	return "malformed"
}

// compact reports whether s is three base64url segments separated by dots.
func compact(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '.':
			dots++
		case b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z', b >= '0' && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return dots == 2
}
