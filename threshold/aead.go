package threshold

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"
)

// Both wraps (a DEK under a KEK, a server share under the master key) are
// nonce(12) || AES-256-GCM(key, nonce, plaintext, ad) with a random nonce: each
// key wraps few enough values that random nonces stay far from collision.
const (
	nonceSize = 12
	tagSize   = 16
)

// seal returns nonce || ciphertext of plaintext under key, with the nonce
// read from rand. key must be KeySize bytes (checked by the callers).
func seal(rand io.Reader, key, plaintext, ad []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeySize, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("threshold: gcm: %w", err)
	}
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := io.ReadFull(rand, out); err != nil {
		return nil, fmt.Errorf("threshold: reading randomness: %w", err)
	}
	return aead.Seal(out, out, plaintext, ad), nil
}

// open reverses seal for a plaintext of plainSize bytes. Every failure is
// ErrUnwrap, so that a caller cannot learn why.
func open(key, wrapped, ad []byte, plainSize int) ([]byte, error) {
	if len(key) != KeySize || len(wrapped) != nonceSize+plainSize+tagSize {
		return nil, ErrUnwrap
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrUnwrap
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, ErrUnwrap
	}
	plain, err := aead.Open(make([]byte, 0, plainSize), wrapped[:nonceSize], wrapped[nonceSize:], ad)
	if err != nil {
		return nil, ErrUnwrap
	}
	return plain, nil
}
