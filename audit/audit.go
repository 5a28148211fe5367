// Package audit is the format of a user's audit chain: the entry, its hash
// and the check of a whole chain. The server appends entries (package store
// keeps them); the device and anyone holding a chain verify it with
// VerifyChain, and a device pins the last hash it verified.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Label separates audit entry hashes from every other hash in Assent.
const Label = "assent/audit/v1"

var (
	// ErrChainBroken is returned by VerifyChain for a removed, edited,
	// reordered or inserted entry.
	ErrChainBroken = errors.New("audit: chain broken")
	// ErrInvalid is returned by Hash for an entry that has no hash: no
	// 32-byte previous hash, a sequence number below 1, a time before 1970,
	// or a field too long for its length prefix.
	ErrInvalid = errors.New("audit: invalid entry")
)

// Entry is one entry of a user's append-only audit chain. Its JSON form
// is the wire form of GET /v1/users/{uid}/audit and GET /v1/device/audit
// (docs/wire.md): byte fields in base64, At in RFC 3339.
type Entry struct {
	UserID  string `json:"user_id"`
	Seq     int64  `json:"seq"` // 1, 2, 3, ... per user
	Event   string `json:"event"`
	Actor   string `json:"actor"`   // client id, device id or "server"
	Subject string `json:"subject"` // record, session or request id the event is about; may be empty
	// Details is event-specific canonical JSON (for approved/denied: the
	// statement and signature); may be empty.
	Details  []byte    `json:"details"`
	At       time.Time `json:"at"`        // whole seconds, UTC
	PrevHash []byte    `json:"prev_hash"` // Hash of entry Seq-1; 32 zero bytes for Seq 1
	Hash     []byte    `json:"hash"`
}

// Hash computes an entry's hash from its fields and PrevHash:
//
//	SHA-256("assent/audit/v1" || 0x00 || prev_hash (32) || u64be(seq) ||
//	        lp(user_id) || lp(event) || lp(actor) || lp(subject) ||
//	        u32be(len(details)) || details || u64be(at unix seconds))
//
// where lp(s) = u16be(len(s)) || s. Fields too long for their length prefix
// give ErrInvalid.
func Hash(e *Entry) ([]byte, error) {
	if len(e.PrevHash) != sha256.Size || e.Seq < 1 || e.At.Unix() < 0 {
		return nil, fmt.Errorf("%w: audit entry needs a 32-byte previous hash, a positive sequence number and a time after 1970", ErrInvalid)
	}
	h := sha256.New()
	h.Write([]byte(Label))
	h.Write([]byte{0})
	h.Write(e.PrevHash)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	for _, s := range []string{e.UserID, e.Event, e.Actor, e.Subject} {
		if len(s) > 0xffff {
			return nil, fmt.Errorf("%w: audit field of %d bytes", ErrInvalid, len(s))
		}
		h.Write([]byte{byte(len(s) >> 8), byte(len(s))})
		h.Write([]byte(s))
	}
	if uint64(len(e.Details)) > 0xffffffff {
		return nil, fmt.Errorf("%w: audit details of %d bytes", ErrInvalid, len(e.Details))
	}
	binary.BigEndian.PutUint32(n[:4], uint32(len(e.Details)))
	h.Write(n[:4])
	h.Write(e.Details)
	binary.BigEndian.PutUint64(n[:], uint64(e.At.Unix()))
	h.Write(n[:])
	return h.Sum(nil), nil
}

// VerifyChain checks that entries are the complete chain of one user from
// Seq 1, each linked to the one before and each hash recomputed. It returns
// an error wrapping ErrChainBroken naming the first bad entry.
func VerifyChain(entries []*Entry) error {
	prev := make([]byte, sha256.Size)
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			return fmt.Errorf("%w: entry %d has sequence number %d", ErrChainBroken, i+1, e.Seq)
		}
		if i > 0 && e.UserID != entries[0].UserID {
			return fmt.Errorf("%w: entry %d belongs to another user", ErrChainBroken, e.Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			return fmt.Errorf("%w: entry %d does not follow entry %d", ErrChainBroken, e.Seq, e.Seq-1)
		}
		h, err := Hash(e)
		if err != nil || !bytes.Equal(h, e.Hash) {
			return fmt.Errorf("%w: entry %d does not match its hash", ErrChainBroken, e.Seq)
		}
		prev = e.Hash
	}
	return nil
}
