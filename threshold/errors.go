package threshold

import "errors"

// Errors returned by this package, wrapped with detail where the detail is
// not secret; check them with errors.Is.
var (
	// ErrTooLong: a length-prefixed field (or an info string) is over 65535
	// bytes.
	ErrTooLong = errors.New("threshold: field longer than 65535 bytes")
	// ErrKeySize: a key, OPRF output or digest has the wrong length.
	ErrKeySize = errors.New("threshold: wrong key or value size")
	// ErrStatement: a statement field is missing or has a value outside
	// what DESIGN.md allows.
	ErrStatement = errors.New("threshold: invalid statement")
	// ErrUnwrap is the one opaque error for any failure to unwrap a data key
	// or a server share: wrong key, wrong associated data, tampering, wrong
	// length.
	ErrUnwrap = errors.New("threshold: unwrap failed")
	// ErrSignature: an Ed25519 signature does not verify, or the key or
	// signature is malformed.
	ErrSignature = errors.New("threshold: invalid signature")
	// ErrMasterKey: the master key file cannot be made or used safely.
	ErrMasterKey = errors.New("threshold: master key")
	// ErrShare: a recovery share or set of shares cannot be used; the
	// wrapping error says why.
	ErrShare = errors.New("threshold: recovery share")
)
