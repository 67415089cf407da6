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
	)}
}

// Issue implements ports.AccessTokenCodec.
func (c *Codec) Issue(t domain.AccessToken) (string, error) {
	cl := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    c.o.Issuer,
			Audience:  jwt.ClaimStrings{c.o.Audience},
			Subject:   strconv.FormatInt(t.Subject, 10),
			ExpiresAt: jwt.NewNumericDate(t.ExpiresAt),
			IssuedAt:  jwt.NewNumericDate(t.IssuedAt),
			NotBefore: jwt.NewNumericDate(t.IssuedAt),
			ID:        t.ID,
		},
		Role: string(t.Role),
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
	var cl claims
	_, err := c.parser.ParseWithClaims(token, &cl, func(*jwt.Token) (any, error) { return c.o.Secret, nil })
	if err != nil {
		reason := "invalid"
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			reason = "expired"
		case errors.Is(err, jwt.ErrTokenNotValidYet):
			reason = "not yet valid"
		case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
			reason = "signature"
		}
		return domain.AccessToken{}, rejected(reason)
	}
	sub, err := strconv.ParseInt(cl.Subject, 10, 64)
	if err != nil || sub <= 0 || cl.ID == "" || cl.Role == "" {
		return domain.AccessToken{}, rejected("claims")
	}
	out := domain.AccessToken{ID: cl.ID, Subject: sub, Role: domain.Role(cl.Role), ExpiresAt: cl.ExpiresAt.Time}
	if cl.IssuedAt != nil {
		out.IssuedAt = cl.IssuedAt.Time
	}
	return out, nil
}
