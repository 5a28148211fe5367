package threshold

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"time"
)

// Statement is what a device signs when it answers a request: DESIGN.md's
// "approval statement". The server rebuilds it from its own view of the
// request and checks the device's signature over Marshal's bytes.
type Statement struct {
	RequestID string
	Kind      string // KindCreate or KindAccess
	UserID    string
	RecordID  string
	Decision  string // DecisionApprove or DecisionDeny
	// ContentSHA256 is the plaintext digest of the record being sealed (32
	// bytes) for KindCreate, and empty for KindAccess.
	ContentSHA256 []byte
	RequesterID   string // requester.id of the request
	Purpose       string
	// BlindedElements are the request's blinded elements, 32 bytes each,
	// between 1 and 64 of them; they are signed for a deny too.
	BlindedElements [][]byte
	// ExpiresAt is the request's expiry; only its Unix seconds are signed.
	ExpiresAt time.Time
}

// Marshal returns the statement bytes:
//
//	"assent/approval/v1" || 0x00 ||
//	lp(request_id) || lp(kind) || lp(user_id) || lp(record_id) ||
//	lp(decision) || lp(content_sha256) || lp(requester_id) || lp(purpose) ||
//	lp(concatenated blinded elements) || u64be(expires_at unix seconds)
//
// It returns an error wrapping ErrStatement (and ErrTooLong for a field over
// 65535 bytes) when a field is not as Statement documents: empty request,
// user or record id, unknown kind or decision, a digest of the wrong length
// for the kind, a blinded element that is not 32 bytes or a count outside
// 1..64, an expiry before 1970.
func (s *Statement) Marshal() ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	e := newEncoder(LabelApproval, 1+2*9+len(s.RequestID)+len(s.Kind)+len(s.UserID)+len(s.RecordID)+
		len(s.Decision)+len(s.ContentSHA256)+len(s.RequesterID)+len(s.Purpose)+
		len(s.BlindedElements)*elementSize+8)
	e.raw(0x00)
	lp(&e, "request id", s.RequestID)
	lp(&e, "kind", s.Kind)
	lp(&e, "user id", s.UserID)
	lp(&e, "record id", s.RecordID)
	lp(&e, "decision", s.Decision)
	lp(&e, "content digest", s.ContentSHA256)
	lp(&e, "requester id", s.RequesterID)
	lp(&e, "purpose", s.Purpose)
	lpConcat(&e, "blinded elements", s.BlindedElements)
	e.u64(uint64(s.ExpiresAt.Unix()))
	b, err := e.result()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	return b, nil
}

func (s *Statement) check() error {
	if err := nonEmpty("request id", s.RequestID, "user id", s.UserID, "record id", s.RecordID); err != nil {
		return err
	}
	switch s.Kind {
	case KindCreate:
		if len(s.ContentSHA256) != sha256.Size {
			return fmt.Errorf("%w: content digest of a create is %d bytes, want %d", ErrStatement, len(s.ContentSHA256), sha256.Size)
		}
	case KindAccess:
		if len(s.ContentSHA256) != 0 {
			return fmt.Errorf("%w: content digest of an access must be empty", ErrStatement)
		}
	default:
		return fmt.Errorf("%w: kind %.40q is neither %q nor %q", ErrStatement, s.Kind, KindCreate, KindAccess)
	}
	if s.Decision != DecisionApprove && s.Decision != DecisionDeny {
		return fmt.Errorf("%w: decision %.40q is neither %q nor %q", ErrStatement, s.Decision, DecisionApprove, DecisionDeny)
	}
	if err := checkElements(s.BlindedElements); err != nil {
		return err
	}
	if s.ExpiresAt.Unix() < 0 {
		return fmt.Errorf("%w: expiry %s is before 1970", ErrStatement, s.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// EnrollStatement returns the bytes a device signs to confirm its
// enrollment:
//
//	"assent/enroll/v1" || 0x00 || lp(user_id) || lp(device_id) ||
//	lp(oprf_public_key) || lp(signing_public_key) || lp(concatenated blinded elements)
//
// oprfPub and signPub must be 32 bytes and the blinded elements as in
// Statement; errors wrap ErrStatement.
func EnrollStatement(userID, deviceID string, oprfPub, signPub []byte, blinded [][]byte) ([]byte, error) {
	if err := nonEmpty("user id", userID, "device id", deviceID); err != nil {
		return nil, err
	}
	if len(oprfPub) != elementSize || len(signPub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public keys are %d and %d bytes, want %d and %d",
			ErrStatement, len(oprfPub), len(signPub), elementSize, ed25519.PublicKeySize)
	}
	if err := checkElements(blinded); err != nil {
		return nil, err
	}
	e := newEncoder(LabelEnroll, 1+2*5+len(userID)+len(deviceID)+len(oprfPub)+len(signPub)+len(blinded)*elementSize)
	e.raw(0x00)
	lp(&e, "user id", userID)
	lp(&e, "device id", deviceID)
	lp(&e, "oprf public key", oprfPub)
	lp(&e, "signing public key", signPub)
	lpConcat(&e, "blinded elements", blinded)
	b, err := e.result()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	return b, nil
}

// nonEmpty takes name, value pairs and reports the first empty value.
func nonEmpty(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("%w: %s is empty", ErrStatement, pairs[i])
		}
	}
	return nil
}

func checkElements(elems [][]byte) error {
	if len(elems) == 0 || len(elems) > maxBatch {
		return fmt.Errorf("%w: %d blinded elements, want 1 to %d", ErrStatement, len(elems), maxBatch)
	}
	for i, el := range elems {
		if len(el) != elementSize {
			return fmt.Errorf("%w: blinded element %d is %d bytes, want %d", ErrStatement, i, len(el), elementSize)
		}
	}
	return nil
}
