package threshold

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"strings"
)

// MatchCodeLen is the number of decimal digits of a match code.
const MatchCodeLen = 2

// MatchCode returns the match code of a device request (DESIGN.md,
// "Sealing a record", step 2): two decimal digits,
//
//	u16be(SHA-256("assent/match/v1" || lp(request_id) ||
//	              lp(concatenated blinded elements))[0:2]) mod 100
//
// with a leading zero kept ("07"). The server returns it in its 202 for the
// requester to show; a device that requires it computes it itself and asks
// the user to type the code the requester shows. The code is not secret: it
// binds the user's attention to one request, so that a request the user did
// not start cannot be approved by a reflex tap.
//
// blinded are the request's blinded elements, as in Statement (32 bytes
// each, 1 to 64 of them). Errors wrap ErrStatement for an empty request id
// or malformed elements, and ErrTooLong for a request id over 65535 bytes.
func MatchCode(requestID string, blinded [][]byte) (string, error) {
	if err := nonEmpty("request id", requestID); err != nil {
		return "", err
	}
	if err := checkElements(blinded); err != nil {
		return "", err
	}
	e := newEncoder(LabelMatch, 2*2+len(requestID)+len(blinded)*elementSize)
	lp(&e, "request id", requestID)
	lpConcat(&e, "blinded elements", blinded)
	msg, err := e.result()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrStatement, err)
	}
	sum := sha256.Sum256(msg)
	return fmt.Sprintf("%0*d", MatchCodeLen, binary.BigEndian.Uint16(sum[:2])%100), nil
}

// MatchCodeEqual reports, in constant time, whether typed (what the user
// entered, with surrounding white space ignored) is the match code want.
// Anything but exactly MatchCodeLen ASCII digits never matches.
func MatchCodeEqual(typed, want string) bool {
	typed = strings.TrimSpace(typed)
	if !ValidMatchCode(typed) || !ValidMatchCode(want) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(typed), []byte(want)) == 1
}

// ValidMatchCode reports whether s is exactly MatchCodeLen ASCII digits.
func ValidMatchCode(s string) bool {
	if len(s) != MatchCodeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
