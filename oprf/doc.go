// Package oprf implements the oblivious pseudorandom functions of RFC 9497
// (OPRF mode 0x00, VOPRF mode 0x01 and POPRF mode 0x02) for the single suite
// ristretto255-SHA512, with strict wire encodings.
//
// In Assent the device holds a POPRF key and plays the RFC's server role
// ([PrivateKey.EvaluatePOPRF]); the Assent server plays the RFC's client role
// ([Blind], [Blinding.FinalizePOPRF], [VerifyPOPRF]) and also holds a
// base-mode OPRF key per user ([PrivateKey.EvaluateOPRF]).
//
// Every step is composed from github.com/cloudflare/circl: its ristretto255
// group (arithmetic, hash-to-group, hash-to-scalar) and its zk/dleq proofs in
// the RFC 9497 transcript. This package does not call circl/oprf's Server and
// Client types directly because they draw randomness from crypto/rand
// internally (circl's ristretto255 RandomScalar ignores its reader), panic on
// over-long info, and keep scalars this package could not clear. The tests
// check every mode against the RFC 9497 vectors and against circl/oprf in
// both directions.
//
// Wire encodings: elements are 32-byte canonical ristretto255 encodings (the
// identity is rejected), scalars 32-byte canonical little-endian non-zero
// values, proofs 64 bytes (c || s). Batches hold 1 to [MaxBatch] elements;
// private inputs and info hold at most [MaxInputSize] bytes. Every failure
// is one of the sentinel errors below, wrapped, and no input makes a
// function panic.
package oprf
