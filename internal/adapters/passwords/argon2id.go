// Package passwords hashes operator passwords with argon2id
// (golang.org/x/crypto/argon2) in the PHC string format.
package passwords

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/ez-api/ez-api/internal/ports"
)

// Params are the argon2id cost parameters of new hashes.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// DefaultParams is OWASP's minimum recommendation: 19 MiB, 2 passes, 1 lane.
func DefaultParams() Params {
	return Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// Argon2id hashes and verifies passwords.
type Argon2id struct{ p Params }

var _ ports.PasswordHasher = (*Argon2id)(nil)

// NewArgon2id builds a hasher producing hashes with p.
func NewArgon2id(p Params) *Argon2id { return &Argon2id{p: p} }

// maxPasswordBytes bounds the work one request can ask for.
const maxPasswordBytes = 1024

// Bounds on parameters read from a stored hash, so a tampered hash cannot
// make verification exhaust memory or time.
const (
	maxMemoryKiB  = 1 << 22
	maxIterations = 100
	maxKeyLen     = 1024
	maxSaltLen    = 1024
)

var errMalformed = errors.New("malformed argon2id hash")

// Hash implements ports.PasswordHasher.
func (a *Argon2id) Hash(password string) (string, error) {
	if len(password) > maxPasswordBytes {
		return "", fmt.Errorf("password longer than %d bytes", maxPasswordBytes)
	}
	salt := make([]byte, a.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, a.p.Iterations, a.p.MemoryKiB, a.p.Parallelism, a.p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, a.p.MemoryKiB, a.p.Iterations,
		a.p.Parallelism, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify implements ports.PasswordHasher with the parameters stored in the
// hash, so hashes made under older settings keep working.
func (a *Argon2id) Verify(password, encoded string) (bool, error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > maxPasswordBytes {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters than
// the current ones.
func (a *Argon2id) NeedsRehash(encoded string) bool {
	p, salt, key, err := decode(encoded)
	return err != nil || p.MemoryKiB != a.p.MemoryKiB || p.Iterations != a.p.Iterations ||
		p.Parallelism != a.p.Parallelism || uint32(len(salt)) != a.p.SaltLen || uint32(len(key)) != a.p.KeyLen
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, errMalformed
	}
	var p Params
	var par uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &par); err != nil || n != 3 {
		return Params{}, nil, nil, errMalformed
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > maxMemoryKiB || p.Iterations == 0 || p.Iterations > maxIterations || par == 0 || par > 255 {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters out of bounds", errMalformed)
	}
	p.Parallelism = uint8(par)
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) == 0 || len(salt) > maxSaltLen {
		return Params{}, nil, nil, errMalformed
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return Params{}, nil, nil, errMalformed
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
