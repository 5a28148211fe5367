package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Error is an API failure: the HTTP status, the code of the error body
// {"error":{"code","message"}} and its message. The server answers with
// one of the values below (its own message in Message); a client decodes
// the answer back into an *Error with ReadError.
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

// The error values of the API (docs/wire.md "Error codes"), each with its status.
var (
	ErrBadRequest       = &Error{Status: http.StatusBadRequest, Code: "bad_request"}
	ErrInvalidID        = &Error{Status: http.StatusBadRequest, Code: "invalid_id"}
	ErrBadProof         = &Error{Status: http.StatusBadRequest, Code: "bad_proof"}
	ErrUnauthenticated  = &Error{Status: http.StatusUnauthorized, Code: "unauthenticated"}
	ErrForbidden        = &Error{Status: http.StatusForbidden, Code: "forbidden"}
	ErrNotFound         = &Error{Status: http.StatusNotFound, Code: "not_found"}
	ErrMethodNotAllowed = &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed"}
	ErrConflict         = &Error{Status: http.StatusConflict, Code: "conflict"}
	// ErrDeviceKeyMismatch: enroll/confirm of a device whose oprf_public_key
	// is not the user's pinned pkD (DESIGN.md, "The user's device set").
	ErrDeviceKeyMismatch = &Error{Status: http.StatusConflict, Code: "device_key_mismatch"}
	// ErrTransferPending: GET /v1/device/transfer before an existing device
	// answered the add_device request (ask again later).
	ErrTransferPending = &Error{Status: http.StatusConflict, Code: "transfer_pending"}
	// ErrTransferDenied: the add_device request was denied or expired; the
	// device can never become active.
	ErrTransferDenied = &Error{Status: http.StatusForbidden, Code: "transfer_denied"}
	ErrExpired        = &Error{Status: http.StatusGone, Code: "expired"}
	ErrGone           = &Error{Status: http.StatusGone, Code: "gone"}
	ErrTooLarge       = &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large"}
	ErrRateLimited    = &Error{Status: http.StatusTooManyRequests, Code: "rate_limited"}
	ErrInternal       = &Error{Status: http.StatusInternalServerError, Code: "internal"}
	ErrUnavailable    = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable"}
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

// maxErrorBody bounds how much of an error answer ReadError reads.
const maxErrorBody = 64 << 10

// ReadError turns a non-2xx answer into an *Error: the code and message of
// its body, its status, Retry-After and X-Request-Id. A body that is not an
// error body (a proxy's page, say) gives an *Error with the status, the code
// of the first error value with that status (or "http_<status>") and no
// message. It reads at most 64 KiB of the body and does not close it.
func ReadError(resp *http.Response) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get(HeaderRequestID)}
	if s, err := strconv.ParseInt(resp.Header.Get(HeaderRetryAfter), 10, 32); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var body ErrorBody
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
		return e
	}
	e.Code = "http_" + strconv.Itoa(resp.StatusCode)
	for _, v := range Errors {
		if v.Status == resp.StatusCode {
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

// CheckStatus returns nil if resp has status want, an *Error from ReadError
// for a non-2xx status, and ErrUnexpectedStatus wrapped otherwise.
func CheckStatus(resp *http.Response, want int) error {
	switch {
	case resp.StatusCode == want:
		return nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return fmt.Errorf("%w: %d, want %d", ErrUnexpectedStatus, resp.StatusCode, want)
	}
	return ReadError(resp)
}
