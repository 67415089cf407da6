// Package secretbox encrypts upstream secrets at rest with AES-256-GCM under
// versioned keys, so keys can be rotated without re-encrypting everything at
// once.
//
// Ciphertext layout:
//
//	byte  0      format, always 0x01
//	bytes 1..4   key version, big-endian uint32
//	bytes 5..16  12-byte random nonce
//	bytes 17..   GCM ciphertext with the 16-byte tag appended
//
// The GCM additional data is the 5-byte header (format and version) followed
// by the caller's additional data, so neither the header nor the row binding
// can be altered without authentication failing.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ez-api/ez-api/internal/ports"
)

const (
	formatV1   = 0x01
	keySize    = 32
	headerSize = 1 + 4
	nonceSize  = 12
	tagSize    = 16
	minSize    = headerSize + nonceSize + tagSize
)

// Keyring holds the AES-256-GCM keys by version and encrypts under the current one.
type Keyring struct {
	current uint32
	aeads   map[uint32]cipher.AEAD
}

var _ ports.SecretCipher = (*Keyring)(nil)

// NewKeyring builds a keyring from 32-byte keys by version (all ≥ 1) and the current version.
func NewKeyring(current uint32, keys map[uint32][]byte) (*Keyring, error) {
	if current == 0 {
		return nil, errors.New("secretbox: key version 0 is reserved for the development key")
	}
	if _, ok := keys[current]; !ok {
		return nil, fmt.Errorf("secretbox: current key version %d is not configured", current)
	}
	return newKeyring(current, keys)
}

// newKeyring builds the AEADs without the version-0 rule, for the development key.
func newKeyring(current uint32, keys map[uint32][]byte) (*Keyring, error) {
	k := &Keyring{current: current, aeads: make(map[uint32]cipher.AEAD, len(keys))}
	for v, key := range keys {
		if v == 0 && current != 0 {
			return nil, errors.New("secretbox: key version 0 is reserved for the development key")
		}
		if len(key) != keySize {
			return nil, fmt.Errorf("secretbox: key version %d is %d bytes, want %d", v, len(key), keySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key version %d: cannot create cipher", v)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key version %d: cannot create GCM", v)
		}
		k.aeads[v] = aead
	}
	return k, nil
}

// ParseKeyring builds a keyring from configuration: the current key as standard
// base64 and its version, plus older keys as "version:base64key,…" (may be empty).
func ParseKeyring(currentKeyB64 string, currentVersion uint32, previous string) (*Keyring, error) {
	cur, err := decodeKey(currentKeyB64)
	if err != nil {
		return nil, fmt.Errorf("secretbox: current key: %w", err)
	}
	keys := map[uint32][]byte{currentVersion: cur}
	if strings.TrimSpace(previous) != "" {
		for i, entry := range strings.Split(previous, ",") {
			n := i + 1 // 1-based for humans; never echo the entry, it holds key material
			ver, b64, ok := strings.Cut(strings.TrimSpace(entry), ":")
			if !ok {
				return nil, fmt.Errorf("secretbox: previous key entry %d: want version:base64key", n)
			}
			v, err := strconv.ParseUint(strings.TrimSpace(ver), 10, 32)
			if err != nil || v == 0 {
				return nil, fmt.Errorf("secretbox: previous key entry %d: version must be an integer from 1 to %d", n, uint32(1<<32-1))
			}
			if _, dup := keys[uint32(v)]; dup {
				return nil, fmt.Errorf("secretbox: previous key entry %d: duplicate key version %d", n, v)
			}
			key, err := decodeKey(b64)
			if err != nil {
				return nil, fmt.Errorf("secretbox: previous key entry %d (version %d): %w", n, v, err)
			}
			keys[uint32(v)] = key
		}
	}
	return NewKeyring(currentVersion, keys)
}

// decodeKey decodes a standard-base64 32-byte key; its errors never echo the input.
func decodeKey(b64 string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, errors.New("not valid standard base64")
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(key), keySize)
	}
	return key, nil
}

// NewDevelopmentKeyring returns a keyring with a fixed, publicly known key at
// version 0; it is for development mode only and protects nothing.
func NewDevelopmentKeyring() *Keyring {
	key := sha256.Sum256([]byte("ezapi development key — not secret"))
	k, err := newKeyring(0, map[uint32][]byte{0: key[:]})
	if err != nil {
		panic("secretbox: development keyring: " + err.Error()) // unreachable: the key is 32 bytes
	}
	return k
}

// Encrypt seals plaintext under the current key, binding it to additionalData.
func (k *Keyring) Encrypt(plaintext, additionalData []byte) ([]byte, error) {
	aead := k.aeads[k.current]
	out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(plaintext)+tagSize)
	out[0] = formatV1
	binary.BigEndian.PutUint32(out[1:headerSize], k.current)
	// crypto/rand.Read never returns an error (it aborts the program instead).
	_, _ = rand.Read(out[headerSize:])
	return aead.Seal(out, out[headerSize:], plaintext, aad(out[:headerSize], additionalData)), nil
}

// Decrypt opens a ciphertext made under any configured key version.
func (k *Keyring) Decrypt(ciphertext, additionalData []byte) ([]byte, error) {
	v, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	aead, ok := k.aeads[v]
	if !ok {
		return nil, fmt.Errorf("secretbox: unknown key version %d", v)
	}
	nonce := ciphertext[headerSize : headerSize+nonceSize]
	pt, err := aead.Open(nil, nonce, ciphertext[headerSize+nonceSize:], aad(ciphertext[:headerSize], additionalData))
	if err != nil {
		return nil, errors.New("secretbox: authentication failed (wrong key, additional data or tampered ciphertext)")
	}
	return pt, nil
}

// Stale reports whether ciphertext is not under the current key version,
// including when it is malformed.
func (k *Keyring) Stale(ciphertext []byte) bool {
	v, err := parseHeader(ciphertext)
	return err != nil || v != k.current
}

// CurrentVersion returns the key version Encrypt uses.
func (k *Keyring) CurrentVersion() uint32 { return k.current }

func parseHeader(ct []byte) (uint32, error) {
	if len(ct) < minSize {
		return 0, fmt.Errorf("secretbox: ciphertext too short (%d bytes, want at least %d)", len(ct), minSize)
	}
	if ct[0] != formatV1 {
		return 0, fmt.Errorf("secretbox: unknown ciphertext format 0x%02x", ct[0])
	}
	return binary.BigEndian.Uint32(ct[1:headerSize]), nil
}

// aad is header‖additionalData; the header has a fixed length, so the
// concatenation is unambiguous.
func aad(header, additionalData []byte) []byte {
	b := make([]byte, 0, len(header)+len(additionalData))
	return append(append(b, header...), additionalData...)
}

// Mask shortens a secret for display, never showing more than a quarter of
// its characters: "sk-1…f3a9" for 32+ characters, the last 4 for 16–31, the
// last 2 for 8–15, "…" for 1–7 and "" for none.
func Mask(secret string) string {
	r := []rune(secret)
	switch n := len(r); {
	case n >= 32:
		return string(r[:4]) + "…" + string(r[n-4:])
	case n >= 16:
		return "…" + string(r[n-4:])
	case n >= 8:
		return "…" + string(r[n-2:])
	case n > 0:
		return "…"
	default:
		return ""
	}
}
