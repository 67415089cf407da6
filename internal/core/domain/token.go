package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"strings"
)

// TokenKind is the prefix that says what a token is for.
type TokenKind string

// Token kinds.
const (
	TokenClient  TokenKind = "sk-"
	TokenMaster  TokenKind = "mk-"
	TokenService TokenKind = "st-"
)

const (
	base62     = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	tokenBytes = 32
	// tokenBodyLen is the base62 length of 32 bytes, zero-padded so every
	// token of a kind has the same length.
	tokenBodyLen = 43
	// prefixLen is how much of a token is kept for display.
	prefixLen = 8
)

// IssuedToken is a freshly generated secret: the plaintext goes to the
// caller once; only Hash and Prefix are stored.
type IssuedToken struct {
	Plaintext string
	Hash      string
	Prefix    string
}

// NewToken generates a token of the kind: 32 random bytes, base62.
func NewToken(kind TokenKind) (IssuedToken, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return IssuedToken{}, err
	}
	body := new(big.Int).SetBytes(b).Text(62)
	body = strings.Repeat("0", tokenBodyLen-len(body)) + body
	plain := string(kind) + body
	return IssuedToken{Plaintext: plain, Hash: HashToken(plain), Prefix: plain[:len(kind)+prefixLen]}, nil
}

// HashToken is the lowercase hex sha256 of the whole token: the only form
// in which a token is stored and looked up.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// WellFormedToken reports whether s has the exact shape of a token of kind,
// so malformed credentials are rejected without a lookup.
func WellFormedToken(s string, kind TokenKind) bool {
	body, ok := strings.CutPrefix(s, string(kind))
	if !ok || len(body) != tokenBodyLen {
		return false
	}
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(base62, body[i]) < 0 {
			return false
		}
	}
	return true
}
