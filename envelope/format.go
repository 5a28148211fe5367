package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"math"

	"github.com/assent-dev/assent/internal/secret"
)

const (
	// ChunkSize is the plaintext size of every chunk but the final one.
	ChunkSize = 64 << 10

	// KeySize is the size of the data key (DEK) and of the payload key.
	KeySize = 32

	// HeaderSize is the size of the header that precedes the chunks.
	HeaderSize = 4 + 1 + 1 + 4 + headerNonceSize // magic, version, algorithm, chunk size, nonce

	// Overhead is the GCM tag added to each chunk.
	Overhead = 16

	// PayloadLabel is the HKDF info that derives the payload key from the DEK.
	PayloadLabel = "assent/payload/v1"

	magic           = "ASNT"
	version         = 0x01
	algAES256GCM    = 0x01
	headerNonceSize = 16

	encChunkSize = ChunkSize + Overhead
	nonceSize    = 12
	counterSize  = nonceSize - 1 // the last nonce byte is the final flag
	lastFlag     = 0x01
)

// headerPrefix is the part of a version 1 header that is the same for every
// envelope; the header nonce follows it.
var headerPrefix = [HeaderSize - headerNonceSize]byte{
	'A', 'S', 'N', 'T', version, algAES256GCM,
	byte(ChunkSize >> 24 & 0xff), byte(ChunkSize >> 16 & 0xff), byte(ChunkSize >> 8 & 0xff), byte(ChunkSize & 0xff),
}

var (
	// ErrCorrupt is the one error for an envelope that is not exactly what a
	// Writer produced under the given DEK: a wrong key, a bad header, a
	// chunk that fails authentication, truncation, reordering, or trailing
	// bytes. It says nothing about which of these happened.
	ErrCorrupt = errors.New("envelope: corrupt or wrong key")

	// ErrKeySize is returned for a DEK that is not exactly KeySize bytes.
	ErrKeySize = errors.New("envelope: data key must be 32 bytes")

	// ErrClosed is returned by a Writer or Reader used after Close.
	ErrClosed = errors.New("envelope: closed")

	// ErrTooLong is returned by a Writer when the chunk counter would
	// overflow (more than 2^88 chunks).
	ErrTooLong = errors.New("envelope: stream too long")

	// errInvalidWrite is a destination's Write claiming more than it was given.
	errInvalidWrite = errors.New("invalid write result")
)

// CiphertextSize returns the size of the envelope of a plaintext of the given
// size, header included. It returns -1 for a negative size or one whose
// envelope would not fit in an int64.
func CiphertextSize(plaintext int64) int64 {
	if plaintext < 0 {
		return -1
	}
	chunks := (plaintext + ChunkSize - 1) / ChunkSize
	if chunks == 0 {
		chunks = 1 // the empty final chunk of an empty plaintext
	}
	if plaintext > math.MaxInt64-HeaderSize-chunks*Overhead {
		return -1
	}
	return HeaderSize + plaintext + chunks*Overhead
}

// newAEAD derives the payload key for a header from the DEK and returns the
// AES-256-GCM instance keyed with it. The derived key bytes are cleared before
// returning; the AEAD keeps its own key schedule, which Go offers no way to
// clear, so callers drop their reference to it as soon as they are done.
func newAEAD(dek []byte, header *[HeaderSize]byte) (cipher.AEAD, error) {
	if len(dek) != KeySize {
		return nil, ErrKeySize
	}
	key, err := hkdf.Key(sha256.New, dek, header[len(headerPrefix):], PayloadLabel, KeySize)
	if err != nil {
		return nil, err
	}
	defer secret.Clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// streamNonce is the 12-byte chunk nonce: an 11-byte big-endian counter and
// the final flag.
type streamNonce [nonceSize]byte

// next advances the counter to the following chunk. It reports false, and
// leaves the counter as it was, when the counter is at its maximum.
func (n *streamNonce) next() bool {
	for i := counterSize - 1; i >= 0; i-- {
		if n[i] != 0xff {
			n[i]++
			clear(n[i+1 : counterSize])
			return true
		}
	}
	return false
}

// isFirst reports whether the counter is at chunk 0.
func (n *streamNonce) isFirst() bool {
	return [counterSize]byte(n[:counterSize]) == [counterSize]byte{}
}

// setLast marks the nonce as that of the final chunk.
func (n *streamNonce) setLast() { n[counterSize] = lastFlag }
