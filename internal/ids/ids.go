// Package ids makes and checks the identifiers of DESIGN.md: record ids are
// UUIDv7 (RFC 9562, creation time inside); every other id is opaque, a short
// kind prefix and 128 random bits.
package ids

import (
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Prefixes of the opaque ids, so that an id pasted into the wrong place is
// caught by its shape.
const (
	User    = "usr"
	Device  = "dev"
	Request = "req"
	Session = "ses"
	Client  = "cli"
)

// ErrMalformed is returned for an id that does not have the expected shape.
var ErrMalformed = errors.New("ids: malformed id")

// randomBytes is the entropy of an opaque id: 128 bits, as DESIGN.md requires.
const randomBytes = 16

// b32 is lowercase base32 without padding: URL-safe, case-stable, 26 chars
// for 16 bytes.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

var encodedLen = b32.EncodedLen(randomBytes)

// New returns prefix + "_" + 26 lowercase base32 characters of 16 bytes read
// from rand. It fails only if rand fails.
func New(prefix string, rand io.Reader) (string, error) {
	var b [randomBytes]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("ids: reading randomness: %w", err)
	}
	return prefix + "_" + b32.EncodeToString(b[:]), nil
}

// Check returns ErrMalformed unless id was made by New with this prefix.
func Check(prefix, id string) error {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || len(rest) != encodedLen {
		return ErrMalformed
	}
	b, err := b32.DecodeString(rest)
	if err != nil || len(b) != randomBytes || b32.EncodeToString(b) != rest {
		return ErrMalformed
	}
	return nil
}

// NewRecord returns a new UUIDv7 record id in canonical lowercase form, with
// the time now and random bits read from rand.
func NewRecord(rand io.Reader, now time.Time) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("ids: reading randomness: %w", err)
	}
	ms := uint64(now.UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // RFC 9562 variant
	return uuid.UUID(b).String(), nil
}

// RecordTime checks that id is a canonical lowercase UUIDv7 and returns the
// creation time it carries (millisecond precision). It returns ErrMalformed
// for any other string.
func RecordTime(id string) (time.Time, error) {
	if len(id) != 36 {
		return time.Time{}, ErrMalformed
	}
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		return time.Time{}, ErrMalformed
	}
	sec, nsec := u.Time().UnixTime()
	return time.Unix(sec, nsec), nil
}
