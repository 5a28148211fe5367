package device

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// AuditHead is the last entry of the user's audit chain that the device
// verified: its sequence number and hash (DESIGN.md, "The device watches").
// The device refuses any later chain that does not extend it. Its JSON
// form ({"seq","hash"}, hash in base64) is the transfer bundle's; the
// stored form is EncodeHead's.
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash []byte `json:"hash"` // audit.Hash of entry Seq, 32 bytes
}

// headVersion is the version of the stored head's encoding.
const headVersion = 1

// headJSON is the stored form of a head, one JSON object exactly as
// EncodeHead writes it:
//
//	{"version":1,"seq":N,"hash":"<64 lowercase hex digits>"}
type headJSON struct {
	Version int    `json:"version"`
	Seq     int64  `json:"seq"`
	Hash    string `json:"hash"`
}

func (h AuditHead) check() error {
	if h.Seq < 1 || len(h.Hash) != sha256.Size {
		return fmt.Errorf("%w: a head needs a sequence number from 1 and a 32-byte hash", ErrHead)
	}
	return nil
}

// Equal reports whether h and o name the same entry with the same hash.
func (h AuditHead) Equal(o AuditHead) bool {
	return h.Seq == o.Seq && bytes.Equal(h.Hash, o.Hash)
}

// String returns "seq N, hash HEX" for messages (a hash is public).
func (h AuditHead) String() string {
	return fmt.Sprintf("seq %d, hash %x", h.Seq, h.Hash)
}

// EncodeHead returns the stored form of h. ErrHead for a sequence number
// below 1 or a hash that is not 32 bytes.
func EncodeHead(h AuditHead) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(&headJSON{Version: headVersion, Seq: h.Seq, Hash: hex.EncodeToString(h.Hash)})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHead, err)
	}
	return b, nil
}

// DecodeHead parses a stored head strictly: exactly the bytes EncodeHead
// would write for it (no other field, spacing, case or order), version 1, a
// sequence number from 1 and a 32-byte hash. ErrHead otherwise.
func DecodeHead(data []byte) (AuditHead, error) {
	if len(data) > maxHeadSize {
		return AuditHead{}, fmt.Errorf("%w: %d bytes", ErrHead, len(data))
	}
	var j headJSON
	if err := decodeStrict(data, &j); err != nil {
		return AuditHead{}, fmt.Errorf("%w: %v", ErrHead, err)
	}
	if j.Version != headVersion {
		return AuditHead{}, fmt.Errorf("%w: unknown version %d", ErrHead, j.Version)
	}
	hash, err := hex.DecodeString(j.Hash)
	if err != nil {
		return AuditHead{}, fmt.Errorf("%w: hash is not hex", ErrHead)
	}
	h := AuditHead{Seq: j.Seq, Hash: hash}
	canon, err := EncodeHead(h)
	if err != nil {
		return AuditHead{}, err
	}
	if !bytes.Equal(canon, data) {
		return AuditHead{}, fmt.Errorf("%w: not in its canonical form", ErrHead)
	}
	return h, nil
}

// ReadPinnedHead returns the head pinned in s; ok is false (and head nil)
// if none was ever pinned. ErrHead for a stored head that does not decode
// (DecodeHead), which the device must treat as an alarm, not as "none".
func ReadPinnedHead(ctx context.Context, s Storage) (head *AuditHead, ok bool, err error) {
	data, err := s.ReadHead(ctx)
	if err != nil {
		return nil, false, err
	}
	if data == nil {
		return nil, false, nil
	}
	h, err := DecodeHead(data)
	if err != nil {
		return nil, false, err
	}
	return &h, true, nil
}

// PinHead replaces the head pinned in s, which must be old (nil: none
// pinned yet), by next, atomically (Storage.SwapHead). It only stores: the
// caller has checked that next's chain extends old (VerifyHistory does).
// Errors: ErrHeadConflict if the pinned head is not old; ErrHead for a
// malformed next or a failed write.
func PinHead(ctx context.Context, s Storage, old *AuditHead, next AuditHead) error {
	enc, err := EncodeHead(next)
	if err != nil {
		return err
	}
	var prev []byte
	if old != nil {
		if prev, err = EncodeHead(*old); err != nil {
			return err
		}
	}
	return s.SwapHead(ctx, prev, enc)
}
