package threshold

import (
	"crypto/sha256"
	"fmt"
	"io"
)

// WrappedDEKSize is the length of a wrapped data key: nonce, DEK, GCM tag.
const WrappedDEKSize = nonceSize + KeySize + tagSize

// WrapAD returns the associated data of a record's wrapped DEK:
//
//	"assent/wrap/v1" || lp(userID) || lp(recordID) || contentSHA256 (32 bytes) || u64be(size)
//
// It returns ErrKeySize unless contentSHA256 is 32 bytes, and ErrTooLong for
// an id over 65535 bytes.
func WrapAD(userID, recordID string, contentSHA256 []byte, size uint64) ([]byte, error) {
	if len(contentSHA256) != sha256.Size {
		return nil, fmt.Errorf("%w: content digest is %d bytes, want %d", ErrKeySize, len(contentSHA256), sha256.Size)
	}
	e := newEncoder(LabelWrap, 4+len(userID)+len(recordID)+sha256.Size+8)
	lp(&e, "user id", userID)
	lp(&e, "record id", recordID)
	e.raw(contentSHA256...)
	e.u64(size)
	return e.result()
}

// WrapDEK returns nonce(12) || AES-256-GCM(kek, nonce, dek, ad), with the
// nonce read from rand; ad is WrapAD's result. kek and dek must be 32 bytes
// (ErrKeySize). It fails otherwise only if rand fails.
func WrapDEK(rand io.Reader, kek, dek, ad []byte) ([]byte, error) {
	if len(kek) != KeySize || len(dek) != KeySize {
		return nil, fmt.Errorf("%w: KEK and DEK must be %d bytes", ErrKeySize, KeySize)
	}
	return seal(rand, kek, dek, ad)
}

// UnwrapDEK returns the DEK wrapped by WrapDEK under kek with associated data
// ad. Any failure (wrong KEK, other associated data, tampering, wrong length)
// returns ErrUnwrap and nothing else. The caller clears the DEK.
func UnwrapDEK(kek, wrapped, ad []byte) ([]byte, error) {
	return open(kek, wrapped, ad, KeySize)
}
