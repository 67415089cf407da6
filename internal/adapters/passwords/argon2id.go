// Package passwords hashes operator passwords with argon2id
// (golang.org/x/crypto/argon2) in the PHC string format.
package passwords

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
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

// Bounds on parameters, checked both for our own configuration and for
// those read from a stored hash, so a tampered hash cannot make
// verification exhaust memory or time (argon2 itself panics on zero
// iterations or lanes).
const (
	maxMemoryKiB  = 1 << 22 // 4 GiB
	maxIterations = 100
	minSaltLen    = 8
	maxSaltLen    = 1024
	minKeyLen     = 16
	maxKeyLen     = 1024
)

var errMalformed = errors.New("malformed argon2id hash")

// Hash implements ports.PasswordHasher.
func (a *Argon2id) Hash(password string) (string, error) {
	if len(password) > maxPasswordBytes {
		return "", fmt.Errorf("password longer than %d bytes", maxPasswordBytes)
	}
	if err := a.p.validate(); err != nil {
		return "", fmt.Errorf("argon2id configuration: %w", err)
	}
	salt := make([]byte, a.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("argon2id salt: %w", err)
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
	// Hash never accepted such a password, so it cannot match; skip the work.
	if len(password) > maxPasswordBytes {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters than
// the current ones (a malformed hash always needs one).
func (a *Argon2id) NeedsRehash(encoded string) bool {
	p, _, _, err := decode(encoded)
	return err != nil || p != a.p
}

func (p Params) validate() error {
	switch {
	case p.MemoryKiB == 0 || p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("memory %d KiB outside 1..%d", p.MemoryKiB, maxMemoryKiB)
	case p.Iterations == 0 || p.Iterations > maxIterations:
		return fmt.Errorf("iterations %d outside 1..%d", p.Iterations, maxIterations)
	case p.Parallelism == 0:
		return errors.New("parallelism 0")
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d outside %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d outside %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// decode parses "$argon2id$v=19$m=…,t=…,p=…$salt$key" strictly: fields in
// this order, decimal numbers without signs or spaces, unpadded base64.
func decode(encoded string) (Params, []byte, []byte, error) {
	// The base64 decoder skips CR and LF; allow only the PHC alphabet so a
	// hash has one spelling.
	if strings.IndexFunc(encoded, notPHC) >= 0 {
		return Params{}, nil, nil, errMalformed
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errMalformed
	}
	if v, ok := field(parts[2], "v=", 32); !ok || v != argon2.Version {
		return Params{}, nil, nil, fmt.Errorf("%w: unsupported version", errMalformed)
	}
	costs := strings.Split(parts[3], ",")
	if len(costs) != 3 {
		return Params{}, nil, nil, errMalformed
	}
	m, okM := field(costs[0], "m=", 32)
	t, okT := field(costs[1], "t=", 32)
	par, okP := field(costs[2], "p=", 8)
	if !okM || !okT || !okP {
		return Params{}, nil, nil, errMalformed
	}
	salt, errS := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, errK := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if errS != nil || errK != nil {
		return Params{}, nil, nil, errMalformed
	}
	p := Params{MemoryKiB: uint32(m), Iterations: uint32(t), Parallelism: uint8(par),
		SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.validate(); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return p, salt, key, nil
}

// field parses "<prefix><decimal>" into an unsigned number of at most bits.
func field(s, prefix string, bits int) (uint64, bool) {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, false
	}
	// Base 10 takes plain digits only: no sign, spaces, "0x" or "_".
	n, err := strconv.ParseUint(digits, 10, bits)
	return n, err == nil
}

func notPHC(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("+/$=,", r))
}
