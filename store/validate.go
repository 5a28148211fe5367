package store

import "time"

// The limits in this file are the argument rules of the Store interface;
// store/internal/check holds the checks that every implementation calls
// before touching storage, so that all of them refuse the same input with
// the same ErrInvalid message.

// Request kinds and answer decisions (DESIGN.md, approval statement).
const (
	KindCreate      = "create"
	KindAccess      = "access"
	KindAddDevice   = "add_device"
	DecisionApprove = "approve"
	DecisionDeny    = "deny"
)

// More limits enforced by every implementation (ErrInvalid past them).
const (
	// MaxDetailsLen bounds an audit entry's Details (canonical JSON holding
	// base64 of a statement and a signature).
	MaxDetailsLen = 65536
	// MaxListLen bounds the number of items in a stored list (blinded
	// elements, evaluated elements, scopes).
	MaxListLen = 256
	// MaxLimit bounds the limit argument of every listing method; pages are
	// read with repeated calls.
	MaxLimit = 10000
	// HashLen is the length of every SHA-256 held by the store (content
	// digests, API key hashes, enrollment code hashes).
	HashLen = 32
	// PublicKeyLen is the length of a device's OPRF and signing public keys.
	PublicKeyLen = 32
	// InputLen is the length of a record's private OPRF input x.
	InputLen = 32
	// MaxBlobName bounds a blob name.
	MaxBlobName = 128
	// MaxInlineContent bounds the ciphertext a record may keep in the
	// store itself (Staging.Content) rather than in the blob store: small
	// records then cost no file system operation of their own, their
	// ciphertext being written in the same transaction as their staging.
	MaxInlineContent = 64 << 10
)

// Times held by the store lie in [MinTime, MaxTime); both bounds fit every
// implementation's time encoding.
var (
	MinTime = time.Unix(0, 0).UTC()
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// AnswerState is the request state an answer's decision leads to.
func AnswerState(decision string) string {
	if decision == DecisionApprove {
		return RequestApproved
	}
	return RequestDenied
}
