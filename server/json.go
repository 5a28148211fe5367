package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/strictjson"
)

// maxJSONBody caps every JSON request body (and the body of any signed
// device call); past it the answer is 413.
const maxJSONBody = 64 << 10

// decodeJSON strictly decodes the request's JSON body into v: at most
// maxJSONBody bytes (413), one object, no unknown field, no key twice, no
// key in another case than v's schema, and nothing after it but white
// space (400), by strictjson.
func decodeJSON(c *echo.Context, v any) error {
	return decodeJSONLimit(c, v, maxJSONBody)
}

// decodeJSONLimit is decodeJSON with a cap of limit bytes.
func decodeJSONLimit(c *echo.Context, v any, limit int64) error {
	r := c.Request()
	if r.ContentLength > limit {
		return fail(errTooLarge, "request body over "+strconv.FormatInt(limit, 10)+" bytes")
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, limit))
	if err != nil {
		return jsonFail(err)
	}
	if err := strictjson.Decode(data, v, strictjson.Options{}); err != nil {
		return jsonFail(err)
	}
	return nil
}

func jsonFail(err error) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return fail(errTooLarge, "request body over "+strconv.Itoa(maxJSONBody)+" bytes")
	case errors.Is(err, os.ErrDeadlineExceeded):
		return failCause(errBadRequest, "the request body did not arrive in time", err)
	case errors.Is(err, io.EOF):
		return fail(errBadRequest, "request body is empty; a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &syn):
		return failCause(errBadRequest, "request body is not valid JSON", err)
	case errors.Is(err, strictjson.ErrTrailing):
		return fail(errBadRequest, "unexpected data after the JSON object")
	case errors.As(err, &typ):
		if typ.Field != "" {
			return failCause(errBadRequest, "field "+strconv.Quote(typ.Field)+" has the wrong type", err)
		}
		return failCause(errBadRequest, "request body must be a JSON object", err)
	}
	// Duplicate or differently cased keys, unknown fields, bad UTF-8:
	// the text names the key, which the client sent itself.
	return failCause(errBadRequest, "invalid request body: "+err.Error(), err)
}

// pathID returns path parameter name, checked as an opaque id of prefix.
func pathID(c *echo.Context, name, prefix string) (string, error) {
	id := c.Param(name)
	if ids.Check(prefix, id) != nil {
		return "", fail(errInvalidID, "malformed "+name)
	}
	return id, nil
}

// pathRecordID returns path parameter name, checked as a record id.
func pathRecordID(c *echo.Context, name string) (string, error) {
	id := c.Param(name)
	if _, err := ids.RecordTime(id); err != nil {
		return "", fail(errInvalidID, "malformed "+name)
	}
	return id, nil
}

// wire returns t as it appears on the wire and in statements: UTC, whole
// seconds.
func wire(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second)
}

// maxWait caps the ?wait=S long poll.
const maxWait = 60 * time.Second

// queryWait parses ?wait=S (seconds, 0 if absent), capped at maxWait.
func queryWait(c *echo.Context) (time.Duration, error) {
	v := c.QueryParam("wait")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, fail(errBadRequest, "wait must be a whole number of seconds")
	}
	return min(time.Duration(n)*time.Second, maxWait), nil
}
