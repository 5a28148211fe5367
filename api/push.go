package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// PushPayload is the whole of what leaves the server in a push, as the data
// of an SSE "request" event and as a webhook body: {"request_id":"req_…"}.
type PushPayload struct {
	RequestID string `json:"request_id"`
}

// SSEEventRequest is the event name of a push on GET /v1/device/events.
const SSEEventRequest = "request"

// MinWebhookSecretSize is the shortest webhook secret accepted: 256 bits,
// the output size of the HMAC.
const MinWebhookSecretSize = 32

var (
	// ErrPushPayload is returned by DecodePushPayload for anything but the
	// exact bytes a server sends.
	ErrPushPayload = errors.New("api: malformed push payload")
	// ErrWebhookSignature is the one opaque error of VerifyWebhook for any
	// malformed, stale or wrong signature.
	ErrWebhookSignature = errors.New("api: webhook signature invalid")
	// ErrWebhookConfig is returned by VerifyWebhook for a secret shorter than
	// MinWebhookSecretSize or a tolerance that is not positive.
	ErrWebhookConfig = errors.New("api: webhook verifier misconfigured")
)

// requestIDLen is len("req_") plus 26 characters of lowercase base32 (128 bits).
const requestIDLen = 4 + 26

// validRequestID reports whether id has the shape of a request id, so that
// no newline or other data rides in a push.
func validRequestID(id string) bool {
	rest, ok := strings.CutPrefix(id, "req_")
	if !ok || len(id) != requestIDLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// DecodePushPayload returns the request id of an SSE event's data or a
// webhook body. It accepts only {"request_id":"<request id>"} with no other
// field, space or escape, and fails with ErrPushPayload otherwise.
func DecodePushPayload(data []byte) (string, error) {
	var p PushPayload
	if err := json.Unmarshal(data, &p); err != nil || !validRequestID(p.RequestID) {
		return "", ErrPushPayload
	}
	want, _ := json.Marshal(p)
	if !bytes.Equal(want, data) {
		return "", ErrPushPayload
	}
	return p.RequestID, nil
}

// webhookMAC returns the lowercase hex HMAC-SHA256(secret, "<t>." || body).
func webhookMAC(secret []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte("."))
	m.Write(body)
	return hex.AppendEncode(nil, m.Sum(nil))
}

// SignWebhook returns the HeaderWebhookSignature value for body sent at now:
//
//	t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(secret, "<t>." || body)>
//
// The timestamp is signed with the body so that a relay can refuse a
// request replayed later.
func SignWebhook(secret []byte, now time.Time, body []byte) string {
	t := strconv.FormatInt(now.Unix(), 10)
	return "t=" + t + ",v1=" + string(webhookMAC(secret, t, body))
}

// VerifyWebhook checks header, the value of HeaderWebhookSignature, against
// body and secret, for a relay that receives Assent's webhook. The
// timestamp must be within tolerance of now, in either direction. Any
// malformed header, wrong signature or timestamp out of range fails with
// the opaque ErrWebhookSignature; the signatures are compared in constant
// time. A secret shorter than MinWebhookSecretSize or a tolerance that is
// not positive fails with ErrWebhookConfig.
//
// Within the tolerance the same request may be replayed; it can only repeat
// a notification, which the device answers by fetching the request again.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) < MinWebhookSecretSize || tolerance <= 0 {
		return ErrWebhookConfig
	}
	// Exactly "t=<digits>,v1=<hex>", nothing before, between or after.
	tPart, vPart, ok := strings.Cut(header, ",")
	if !ok {
		return ErrWebhookSignature
	}
	t, ok1 := strings.CutPrefix(tPart, "t=")
	v1, ok2 := strings.CutPrefix(vPart, "v1=")
	if !ok1 || !ok2 {
		return ErrWebhookSignature
	}
	sec, err := strconv.ParseInt(t, 10, 64)
	// The canonical form only: no sign, no leading zeros.
	if err != nil || sec < 0 || strconv.FormatInt(sec, 10) != t {
		return ErrWebhookSignature
	}
	// In whole seconds, where neither bound can overflow.
	tol := int64(tolerance / time.Second)
	if sec < now.Unix()-tol || sec > now.Unix()+tol {
		return ErrWebhookSignature
	}
	// Comparing the hex strings also rejects uppercase and wrong lengths.
	if !hmac.Equal([]byte(v1), webhookMAC(secret, t, body)) {
		return ErrWebhookSignature
	}
	return nil
}
