package threshold

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
)

// Sign returns the Ed25519 signature of msg (a statement or a device-auth
// string) under sk. Like ed25519.Sign, it panics if sk is not 64 bytes: the
// key is the caller's own, never input from elsewhere.
func Sign(sk ed25519.PrivateKey, msg []byte) []byte {
	return ed25519.Sign(sk, msg)
}

// Verify checks an Ed25519 signature of msg under the 32-byte public key pk.
// It returns ErrSignature, and only that, if the signature does not verify or
// the key or signature has the wrong length.
func Verify(pk []byte, msg, sig []byte) error {
	if len(pk) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return ErrSignature
	}
	if !ed25519.Verify(ed25519.PublicKey(pk), msg, sig) {
		return ErrSignature
	}
	return nil
}

// DeviceAuthMessage returns the string a device signs for each /v1/device/*
// request:
//
//	"assent/device-auth/v1\n" + method + "\n" + pathWithQuery + "\n" +
//	timestamp + "\n" + nonce + "\n" + hex(sha256(body))
//
// with the hex in lower case and no trailing newline. pathWithQuery is the
// request target as sent; timestamp and nonce are the header values as sent.
func DeviceAuthMessage(method, pathWithQuery, timestamp, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	n := len(LabelDeviceAuth) + len(method) + len(pathWithQuery) + len(timestamp) + len(nonce) + 5 + hex.EncodedLen(len(sum))
	msg := make([]byte, 0, n)
	for _, part := range []string{LabelDeviceAuth, method, pathWithQuery, timestamp, nonce} {
		msg = append(append(msg, part...), '\n')
	}
	return hex.AppendEncode(msg, sum[:])
}

// DeviceKeyID returns the id of a device OPRF public key: the hex of the
// first 16 bytes of its SHA-256.
func DeviceKeyID(oprfPub []byte) string {
	sum := sha256.Sum256(oprfPub)
	return hex.EncodeToString(sum[:16])
}
