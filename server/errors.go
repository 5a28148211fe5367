package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/store"
)

// The classes of API failure are the error values of package api, each with
// its HTTP status and code. Handlers return them through fail, and the one
// error handler (Server.handleError) turns them into responses; errors.Is
// against the api values works on the server's errors as on a client's.
var (
	errBadRequest       = api.ErrBadRequest
	errInvalidID        = api.ErrInvalidID
	errBadProof         = api.ErrBadProof
	errUnauthenticated  = api.ErrUnauthenticated
	errForbidden        = api.ErrForbidden
	errNotFound         = api.ErrNotFound
	errMethodNotAllowed = api.ErrMethodNotAllowed
	errConflict         = api.ErrConflict
	errKeyMismatch      = api.ErrDeviceKeyMismatch
	errTransferPending  = api.ErrTransferPending
	errTransferDenied   = api.ErrTransferDenied
	errExpired          = api.ErrExpired
	errGone             = api.ErrGone
	errTooLarge         = api.ErrTooLarge
	errRateLimited      = api.ErrRateLimited
	errInternal         = api.ErrInternal
	errUnavailable      = api.ErrUnavailable
)

// The messages of failures that say the same everywhere.
const (
	msgUnauthenticated = "missing or invalid credentials"
	msgUnavailable     = "storage is unavailable; try again later"
	msgInternal        = "internal error"
)

// apiError is a failure as the client sees it (kind and message) with the
// cause kept for the log only. The message never holds a secret, record
// content or an internal error text.
type apiError struct {
	kind       *api.Error
	msg        string
	cause      error
	retryAfter time.Duration
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.kind.Code + ": " + e.msg + ": " + e.cause.Error()
	}
	return e.kind.Code + ": " + e.msg
}

func (e *apiError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// fail returns a failure of class kind with a message for the client.
func fail(kind *api.Error, msg string) error {
	return &apiError{kind: kind, msg: msg}
}

// failCause is fail with a cause for the log.
func failCause(kind *api.Error, msg string, cause error) error {
	return &apiError{kind: kind, msg: msg, cause: cause}
}

// storeFail maps a store error about the object named what ("record",
// "session", ...) to its API failure.
func storeFail(err error, what string) error {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return err // classified already
	case errors.Is(err, store.ErrNotFound):
		return failCause(errNotFound, what+" not found", err)
	case errors.Is(err, store.ErrConflict):
		return failCause(errConflict, what+" is not in a state that allows this", err)
	case errors.Is(err, store.ErrExpired):
		return failCause(errExpired, what+" has expired", err)
	case errors.Is(err, store.ErrInvalid):
		return failCause(errBadRequest, "invalid "+what, err)
	case errors.Is(err, store.ErrUnavailable):
		return failCause(errUnavailable, msgUnavailable, err)
	}
	return failCause(errInternal, msgInternal, err)
}

// asAPIError classifies any error a handler or Echo returns.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &apiError{kind: errTooLarge, msg: "request body too large", cause: err}
	}
	if errors.Is(err, store.ErrUnavailable) {
		return &apiError{kind: errUnavailable, msg: msgUnavailable, cause: err}
	}
	switch echo.StatusCode(err) {
	case http.StatusNotFound:
		return &apiError{kind: errNotFound, msg: "no such endpoint"}
	case http.StatusMethodNotAllowed:
		return &apiError{kind: errMethodNotAllowed, msg: "method not allowed on this endpoint"}
	case http.StatusRequestEntityTooLarge:
		return &apiError{kind: errTooLarge, msg: "request body too large"}
	}
	return &apiError{kind: errInternal, msg: msgInternal, cause: err}
}

// handleError is the one Echo HTTPErrorHandler: it writes the error body of
// err, or only logs err if the response has started (a download cut short).
func (s *Server) handleError(c *echo.Context, err error) {
	log := requestLogger(c, s.log)
	ae := asAPIError(err)
	if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed {
		log.Warn("request failed after the response started", "error", err)
		return
	}
	if ae.kind.Status >= 500 {
		log.Error("request failed", "status", ae.kind.Status, "code", ae.kind.Code, "error", err)
	} else {
		log.Debug("request refused", "status", ae.kind.Status, "code", ae.kind.Code, "error", err)
	}
	h := c.Response().Header()
	if ae.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((ae.retryAfter+time.Second-1)/time.Second), 10))
	}
	if ae.kind == errUnauthenticated {
		h.Set("WWW-Authenticate", `Bearer realm="assent"`)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.kind.Status)
		return
	}
	if werr := c.JSON(ae.kind.Status, api.ErrorBody{Error: api.ErrorDetail{Code: ae.kind.Code, Message: ae.msg}}); werr != nil {
		log.Debug("writing the error response failed", "error", werr)
	}
}
