package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Error is an API failure: the HTTP status, the code of the error body
// {"error":{"code","message"}} and its message. The server answers with
// one of the values below (its own message in Message); a client decodes
// the answer back into an *Error with DecodeError.
//
// errors.Is(err, api.ErrNotFound) holds for any *Error with the same Code,
// whatever its message or status, so both sides test failures the same way.
type Error struct {
	Status  int    // the HTTP status
	Code    string // the stable machine-readable code
	Message string // for people; never carries a secret or an internal error
	// RetryAfter is the Retry-After of a 429 or 503 answer, when it had one.
	RetryAfter time.Duration
	// RequestID is the X-Request-Id of the answer, to quote to an operator.
	RequestID string
}

// Error returns "code: message", or the code alone.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The HTTP statuses of the error values (RFC 9110 section 15; 429 is RFC
// 6585's). Plain numbers rather than net/http's names: the approval app's
// WebAssembly links this package, and net/http would bring its whole
// transport and crypto/tls into it although the browser's fetch carries
// the requests there.
const (
	statusBadRequest            = 400
	statusUnauthorized          = 401
	statusForbidden             = 403
	statusNotFound              = 404
	statusMethodNotAllowed      = 405
	statusConflict              = 409
	statusGone                  = 410
	statusRequestEntityTooLarge = 413
	statusTooManyRequests       = 429
	statusInternalServerError   = 500
	statusServiceUnavailable    = 503
)

// The error values of the API (docs/wire.md "Error codes"), each with its status.
var (
	ErrBadRequest       = &Error{Status: statusBadRequest, Code: "bad_request"}
	ErrInvalidID        = &Error{Status: statusBadRequest, Code: "invalid_id"}
	ErrBadProof         = &Error{Status: statusBadRequest, Code: "bad_proof"}
	ErrUnauthenticated  = &Error{Status: statusUnauthorized, Code: "unauthenticated"}
	ErrForbidden        = &Error{Status: statusForbidden, Code: "forbidden"}
	ErrNotFound         = &Error{Status: statusNotFound, Code: "not_found"}
	ErrMethodNotAllowed = &Error{Status: statusMethodNotAllowed, Code: "method_not_allowed"}
	ErrConflict         = &Error{Status: statusConflict, Code: "conflict"}
	// ErrDeviceKeyMismatch: enroll/confirm of a device whose oprf_public_key
	// is not the user's pinned pkD (DESIGN.md, "The user's device set").
	ErrDeviceKeyMismatch = &Error{Status: statusConflict, Code: "device_key_mismatch"}
	// ErrTransferPending: GET /v1/device/transfer before an existing device
	// answered the add_device request (ask again later).
	ErrTransferPending = &Error{Status: statusConflict, Code: "transfer_pending"}
	// ErrTransferDenied: the add_device request was denied or expired; the
	// device can never become active.
	ErrTransferDenied = &Error{Status: statusForbidden, Code: "transfer_denied"}
	ErrExpired        = &Error{Status: statusGone, Code: "expired"}
	ErrGone           = &Error{Status: statusGone, Code: "gone"}
	ErrTooLarge       = &Error{Status: statusRequestEntityTooLarge, Code: "too_large"}
	ErrRateLimited    = &Error{Status: statusTooManyRequests, Code: "rate_limited"}
	ErrInternal       = &Error{Status: statusInternalServerError, Code: "internal"}
	ErrUnavailable    = &Error{Status: statusServiceUnavailable, Code: "unavailable"}
)

// Errors lists every error value, for documentation and tests.
var Errors = []*Error{
	ErrBadRequest, ErrInvalidID, ErrBadProof, ErrUnauthenticated, ErrForbidden,
	ErrNotFound, ErrMethodNotAllowed, ErrConflict, ErrDeviceKeyMismatch, ErrTransferPending, ErrTransferDenied, ErrExpired, ErrGone,
	ErrTooLarge, ErrRateLimited, ErrInternal, ErrUnavailable,
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// MaxErrorBody bounds how much of an error answer DecodeError reads.
const MaxErrorBody = 64 << 10

// DecodeError turns a non-2xx answer into an *Error: the code and message
// of its body, its status, and the Retry-After and X-Request-Id that header
// (the answer's header lookup, case-insensitive; nil when there is none)
// gives. A body that is not an error body (a proxy's page, say) gives an
// *Error with the status, the code of the first error value with that
// status (or "http_<status>") and no message. It reads at most
// MaxErrorBody bytes of body and does not close it; a read error counts as
// a body that is not an error body.
func DecodeError(status int, header func(name string) string, body io.Reader) *Error {
	if header == nil {
		header = func(string) string { return "" }
	}
	e := &Error{Status: status, RequestID: header(HeaderRequestID)}
	if s, err := strconv.ParseInt(header(HeaderRetryAfter), 10, 32); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var b ErrorBody
	raw, _ := io.ReadAll(io.LimitReader(body, MaxErrorBody))
	if json.Unmarshal(raw, &b) == nil && b.Error.Code != "" {
		e.Code, e.Message = b.Error.Code, b.Error.Message
		return e
	}
	e.Code = "http_" + strconv.Itoa(status)
	for _, v := range Errors {
		if v.Status == status {
			e.Code = v.Code
			break
		}
	}
	return e
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// ErrUnexpectedStatus is wrapped by a client when a 2xx answer has another
// status than the route's.
var ErrUnexpectedStatus = errors.New("api: unexpected status")

// CheckStatus returns nil if an answer has status want, the *Error of
// DecodeError(status, header, body) for a non-2xx status, and
// ErrUnexpectedStatus wrapped otherwise. It reads body only for a non-2xx
// status.
func CheckStatus(status, want int, header func(name string) string, body io.Reader) error {
	switch {
	case status == want:
		return nil
	case status >= 200 && status < 300:
		return fmt.Errorf("%w: %d, want %d", ErrUnexpectedStatus, status, want)
	}
	return DecodeError(status, header, body)
}
