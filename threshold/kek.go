package threshold

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/assent-dev/assent/internal/secret"
)

// kekSalt is LabelKEK as bytes, made once; it is never written to.
var kekSalt = []byte(LabelKEK)

// DeriveKEK returns the 32-byte key-encryption key of record recordID of
// user userID:
//
//	HKDF-SHA256(ikm = yS || yD, salt = "assent/kek/v1", info = lp(userID) || lp(recordID))
//
// yS is the server share's OPRF output and yD the device's POPRF output, 64
// bytes each (ErrKeySize otherwise). It returns ErrTooLong for an id over
// 65535 bytes. The caller clears yS, yD and the KEK; DeriveKEK clears its own
// intermediate values.
func DeriveKEK(yS, yD []byte, userID, recordID string) ([]byte, error) {
	if len(yS) != outputSize || len(yD) != outputSize {
		return nil, fmt.Errorf("%w: OPRF outputs are %d and %d bytes, want %d", ErrKeySize, len(yS), len(yD), outputSize)
	}
	e := encoder{buf: make([]byte, 0, 4+len(userID)+len(recordID))}
	lp(&e, "user id", userID)
	lp(&e, "record id", recordID)
	info, err := e.result()
	if err != nil {
		return nil, err
	}

	ikm := make([]byte, 0, 2*outputSize)
	ikm = append(append(ikm, yS...), yD...)
	prk, err := hkdf.Extract(sha256.New, ikm, kekSalt)
	secret.Clear(ikm)
	if err != nil {
		return nil, fmt.Errorf("threshold: hkdf: %w", err)
	}
	kek, err := hkdf.Expand(sha256.New, prk, string(info), KeySize)
	secret.Clear(prk)
	if err != nil {
		return nil, fmt.Errorf("threshold: hkdf: %w", err)
	}
	return kek, nil
}
