// Package threshold implements the 2-of-2 key composition of Assent, as
// specified in DESIGN.md ("Cryptography" and "Flows"): the per-record info
// string, the KEK derivation that joins the device's POPRF output yD and the
// server share's OPRF output yS, the wrapping of record data keys under that
// KEK, the approval and enrollment statements the device signs, the device
// request-authentication string, the wrapping of per-user server shares under
// the server master key, and the printable recovery kit of the device share.
//
// Every byte layout here is fixed by DESIGN.md; testdata/golden.json holds
// vectors (hex encoded) that any other implementation can check itself
// against.
//
// # Length prefixes
//
// lp(s) = u16be(len(s)) || s. A field longer than 65535 bytes cannot be
// encoded and is refused with ErrTooLong.
//
// # Server share wrapping
//
// A server share kS_u is stored as nonce(12) || AES-256-GCM(master key,
// nonce, kS_u, ad) with ad = "assent/server-share/v1" || lp(user_id) ||
// u32be(key_version), so that a wrapped share cannot be moved to another user
// or replayed as another key version.
//
// # Master key file
//
// Exactly 32 raw bytes, mode 0600 (any group or other permission bit is
// refused). LoadOrCreateMasterKey makes it when absent: the key is written
// and synced to a temporary file opened with O_EXCL, then hard-linked into
// place, which fails if another process won the race, in which case that
// process's key is read. A reader therefore never sees a partly written key.
//
// # Recovery kit
//
// The device share kD can be split t-of-n (Shamir over the ristretto255
// scalar field, github.com/cloudflare/circl/secretsharing) for printing. Each
// share is the text
//
//	"assent-recovery-v1-" || base32(payload)
//
// with base32 the RFC 4648 alphabet, upper case, no padding, and payload the
// 44 bytes
//
//	version (1 byte, 1) || t (1 byte) || n (1 byte) || share id (1 byte, 1..n) ||
//	share value (32 bytes, canonical scalar) ||
//	group tag (4 bytes: SHA-256(public key of kD)[:4]) ||
//	checksum (4 bytes: SHA-256(all previous bytes)[:4])
//
// The base32 text is printed in groups of five characters joined by dashes.
// Parsing ignores dashes, white space and case. The checksum catches typing
// errors; the group tag catches shares of different kits; the key recovered
// from t shares is checked against the group tag, and any share beyond the
// first t must lie on the same polynomial. 2 <= t <= n <= 255.
package threshold
