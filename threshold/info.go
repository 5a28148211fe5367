package threshold

import (
	"crypto/ed25519"
	"fmt"
)

// RecordInfo returns the POPRF info of record recordID of user userID:
// "assent/record/v1" || lp(userID) || lp(recordID). It returns ErrTooLong if
// a field or the whole info is over 65535 bytes (the oprf package's cap on
// info).
func RecordInfo(userID, recordID string) ([]byte, error) {
	return pairInfo(LabelRecord, "user id", userID, "record id", recordID)
}

// EnrollCheckInfo returns the POPRF info of the enrollment check of device
// deviceID of user userID with signing key signPub:
// "assent/enroll-check/v2" || lp(userID) || lp(deviceID) ||
// lp(signing_public_key). The device builds it from its own signing key, so
// its proof endorses that key and no other. Errors as RecordInfo, and
// ErrStatement if signPub is not 32 bytes.
func EnrollCheckInfo(userID, deviceID string, signPub []byte) ([]byte, error) {
	if len(signPub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: signing public key is %d bytes, want %d", ErrStatement, len(signPub), ed25519.PublicKeySize)
	}
	e := newEncoder(LabelEnrollCheck, 6+len(userID)+len(deviceID)+len(signPub))
	lp(&e, "user id", userID)
	lp(&e, "device id", deviceID)
	lp(&e, "signing public key", signPub)
	return capInfo(e.result())
}

func pairInfo(label, name1, v1, name2, v2 string) ([]byte, error) {
	e := newEncoder(label, 4+len(v1)+len(v2))
	lp(&e, name1, v1)
	lp(&e, name2, v2)
	return capInfo(e.result())
}

// capInfo refuses an info over the oprf package's cap.
func capInfo(info []byte, err error) ([]byte, error) {
	if err == nil && len(info) > maxField {
		return nil, fmt.Errorf("%w: info is %d bytes", ErrTooLong, len(info))
	}
	return info, err
}
