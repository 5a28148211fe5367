package device

import (
	"context"
	"io"
	"strings"
)

// Transport carries the HTTP exchanges of a Client: the one seam between
// the device's protocol (what is sent, signed and checked, all in this
// package) and what moves the bytes, net/http natively (HTTPTransport) and
// the browser's fetch in WebAssembly, so that the approval app's
// WebAssembly links neither net/http nor crypto/tls.
//
// An implementation must never follow a redirect (a redirect would re-send
// signed calls, answers and the enrollment code to another URL, even over
// plain http): it returns the redirect answer as it is, or fails with an
// error wrapping ErrProtocol when it cannot see it (fetch). It must send no
// credentials of its own (cookies, HTTP authentication), stop the exchange,
// body included, once ctx is done, and return ctx's error then. A Client
// calls RoundTrip concurrently.
type Transport interface {
	// RoundTrip sends req and returns the answer, whose Body the caller
	// reads until ctx is done and closes; or an error if no answer came.
	RoundTrip(ctx context.Context, req *HTTPRequest) (*HTTPResponse, error)
}

// HTTPRequest is one request of a Client to its Transport.
type HTTPRequest struct {
	Method string
	// URL is absolute; its request target (path and query) is what the
	// device signed, so a Transport sends it exactly as it is.
	URL    string
	Header HTTPHeader
	// Body is the request body; nil for none.
	Body []byte
}

// HTTPResponse is the answer a Transport returns.
type HTTPResponse struct {
	Status int
	Header HTTPHeader
	// Body is the answer's body, streamed (the event stream never ends by
	// itself); never nil.
	Body io.ReadCloser
}

// HTTPHeader holds header fields, one value per name, under their names in
// lower case (HTTP names are case-insensitive; fetch gives them so).
type HTTPHeader map[string]string

// Get returns the value of the field name ("" if absent), in any case.
func (h HTTPHeader) Get(name string) string { return h[strings.ToLower(name)] }

// Set sets the field name, in any case, to value.
func (h HTTPHeader) Set(name, value string) { h[strings.ToLower(name)] = value }
