package ports

import "github.com/ez-api/ez-api/internal/core/domain"

// PasswordHasher hashes operator passwords (argon2id in production).
type PasswordHasher interface {
	// Hash returns a self-describing encoded hash (PHC string format).
	Hash(password string) (string, error)
	// Verify reports whether password matches encoded, in constant time.
	// A malformed encoded hash is an error, never a match.
	Verify(password, encoded string) (bool, error)
}

// AccessTokenCodec issues and verifies operator access tokens (JWT).
type AccessTokenCodec interface {
	Issue(t domain.AccessToken) (string, error)
	// Verify checks signature, algorithm, issuer, audience, expiry and
	// not-before; every failure wraps domain.ErrUnauthenticated.
	Verify(token string) (domain.AccessToken, error)
}
