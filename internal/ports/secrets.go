package ports

import "context"

// SecretCipher encrypts upstream secrets at rest under a versioned key.
// Additional data binds a ciphertext to its row, so a ciphertext copied to
// another row does not decrypt.
type SecretCipher interface {
	Encrypt(plaintext, additionalData []byte) ([]byte, error)
	// Decrypt accepts ciphertexts under the current or any older configured
	// key version.
	Decrypt(ciphertext, additionalData []byte) ([]byte, error)
	// Stale reports whether ciphertext is under an older key version than
	// the current one (so rotation should re-encrypt it).
	Stale(ciphertext []byte) bool
}

// AddressGuard decides whether an upstream base URL is acceptable: http or
// https only and, unless private networks are allowed, no loopback,
// link-local (cloud metadata) or private destination, also after DNS
// resolution of a host name.
type AddressGuard interface {
	CheckUpstreamURL(ctx context.Context, rawURL string) error
}
