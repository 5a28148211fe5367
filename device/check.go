package device

import (
	"crypto/sha256"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/threshold"
)

const (
	// RecordAgeSlack is what DESIGN.md allows a create request's record id
	// beyond the request's lifetime: a record id (UUIDv7) older than the
	// lifetime plus this is refused, as an old record passed off as new.
	// It also bounds how far in the future a record id or a request's
	// creation time may lie (clock skew).
	RecordAgeSlack = 5 * time.Minute
	// DefaultMaxLifetime is the longest request lifetime (expires_at -
	// created_at) the device accepts by default. Without a cap, a server
	// could make any record id look fresh by claiming a long lifetime.
	DefaultMaxLifetime = time.Hour
	// MaxTextLen caps each text field of a request (the server's own cap).
	MaxTextLen = 1024
)

// RequestState is the state of a request the server still waits on.
const RequestState = "pending"

// CheckRequest checks a request from the server against the device's
// identity and clock, before anything is shown, evaluated or signed: the
// request id is well-formed and the request pending (ErrNotPending
// otherwise); the kind is create or access; the user is the enrolled user;
// device_key_id is this device's key id; the record id is a UUIDv7; the
// request was created no later than now plus RecordAgeSlack, has a lifetime
// between 1 s and maxLifetime, and has not expired; there is exactly one
// blinded element and it is a valid group element; the text fields are UTF-8
// of at most MaxTextLen bytes and the requester id is a client id. For a
// create it also checks a 32-byte digest, a non-negative size and a record
// id neither older than the lifetime plus RecordAgeSlack nor newer than now
// plus RecordAgeSlack.
//
// It does not consult the ledger (the Agent does). Every failure but
// ErrNotPending wraps ErrRefused and says which check failed.
func CheckRequest(id *Identity, req *Request, now time.Time, maxLifetime time.Duration) error {
	if err := ids.Check(ids.Request, req.RequestID); err != nil {
		return fmt.Errorf("%w: malformed request id", ErrRefused)
	}
	if req.State != RequestState {
		return fmt.Errorf("%w: %s is %.20q", ErrNotPending, req.RequestID, req.State)
	}
	if req.Kind != threshold.KindCreate && req.Kind != threshold.KindAccess {
		return refuse(req, "unknown kind %.20q", req.Kind)
	}
	if req.UserID != id.UserID {
		return refuse(req, "it is for user %.40q, this device is enrolled for %s", req.UserID, id.UserID)
	}
	if req.DeviceKeyID != id.DeviceKeyID {
		return refuse(req, "it needs device key %.40q, this device holds key %s", req.DeviceKeyID, id.DeviceKeyID)
	}
	recordTime, err := ids.RecordTime(req.RecordID)
	if err != nil {
		return refuse(req, "record id %.40q is not a UUIDv7", req.RecordID)
	}
	if err := checkTimes(req, now, maxLifetime); err != nil {
		return err
	}
	if err := checkBlinded(req.BlindedElements); err != nil {
		return refuse(req, "%v", err)
	}
	if err := checkText(req); err != nil {
		return err
	}
	if req.Kind == threshold.KindCreate {
		if len(req.Record.ContentSHA256) != sha256.Size || req.Record.Size < 0 {
			return refuse(req, "the record's digest or size is malformed")
		}
		lifetime := req.ExpiresAt.Sub(req.CreatedAt)
		if age := now.Sub(recordTime); age > lifetime+RecordAgeSlack {
			return refuse(req, "record %s was made %s ago, before this request could have been: an old record cannot be sealed as new",
				req.RecordID, age.Truncate(time.Second))
		}
		if recordTime.After(now.Add(RecordAgeSlack)) {
			return refuse(req, "record %s claims to be made in the future", req.RecordID)
		}
	}
	return nil
}

func checkTimes(req *Request, now time.Time, maxLifetime time.Duration) error {
	if maxLifetime <= 0 {
		maxLifetime = DefaultMaxLifetime
	}
	lifetime := req.ExpiresAt.Sub(req.CreatedAt)
	switch {
	case req.CreatedAt.IsZero() || req.ExpiresAt.IsZero():
		return refuse(req, "it has no creation or expiry time")
	case lifetime < time.Second || lifetime > maxLifetime:
		return refuse(req, "its lifetime of %s is outside 1s..%s", lifetime, maxLifetime)
	case req.CreatedAt.After(now.Add(RecordAgeSlack)):
		return refuse(req, "it claims to be made in the future")
	case !now.Before(req.ExpiresAt):
		return refuse(req, "it expired at %s", req.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

func checkText(req *Request) error {
	fields := []struct{ name, v string }{
		{"purpose", req.Purpose}, {"requester name", req.Requester.Name},
		{"record title", req.Record.Title}, {"content type", req.Record.ContentType},
	}
	for _, f := range fields {
		if len(f.v) > MaxTextLen || !utf8.ValidString(f.v) {
			return refuse(req, "its %s is not UTF-8 of at most %d bytes", f.name, MaxTextLen)
		}
	}
	if ids.Check(ids.Client, req.Requester.ID) != nil {
		return refuse(req, "requester id %.40q is not a client id", req.Requester.ID)
	}
	return nil
}

func refuse(req *Request, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrRefused, req.RequestID, fmt.Sprintf(format, args...))
}
