// Package openapicheck checks HTTP exchanges against Assent's OpenAPI
// document (api/openapi.yaml) with kin-openapi's openapi3filter, for tests:
// a Validator is an http.RoundTripper to put under the SDK's and the device's
// HTTP clients. Only tests import it, so kin-openapi never reaches a binary.
package openapicheck

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/assent-dev/assent/api"
)

// Validator is an http.RoundTripper that checks every request and answer
// against api/openapi.yaml (kin-openapi's openapi3filter): the route, the
// parameters, JSON bodies both ways, and that the status is documented.
// Non-JSON bodies (uploads, downloads, the event stream) are not read.
type Validator struct {
	next   http.RoundTripper
	router routers.Router

	mu   sync.Mutex
	errs []string
	ops  map[string]bool // operation ids seen
}

// New returns a Validator sending the exchanges on through next
// (http.DefaultTransport if nil). It fails if the document does not load.
func New(next http.RoundTripper) (*Validator, error) {
	if next == nil {
		next = http.DefaultTransport
	}
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIJSON)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // any host: test servers listen on random ports
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Validator{next: next, router: r, ops: map[string]bool{}}, nil
}

func isJSON(h http.Header) bool {
	return strings.HasPrefix(h.Get("Content-Type"), "application/json")
}

func (v *Validator) fail(req *http.Request, format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, req.Method+" "+req.URL.RequestURI()+": "+fmt.Sprintf(format, args...))
}

func (v *Validator) RoundTrip(req *http.Request) (*http.Response, error) {
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.fail(req, "no such operation in the document: %v", err)
		return v.next.RoundTrip(req)
	}
	v.mu.Lock()
	v.ops[route.Operation.OperationID] = true
	v.mu.Unlock()
	jsonReq := req.Body != nil && req.Body != http.NoBody && isJSON(req.Header)
	var reqBody []byte
	if jsonReq {
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{
		Request: check, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestBody: !jsonReq},
	}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		v.fail(req, "request: %v", err)
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: !isJSON(resp.Header)},
	}
	if isJSON(resp.Header) {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		out.SetBodyBytes(b)
	} else {
		out.Body = http.NoBody
	}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		v.fail(req, "answer %d: %v", resp.StatusCode, err)
	}
	return resp, nil
}

// Problems returns every mismatch seen so far, and a line for each of ops
// (operation ids) that no exchange called.
func (v *Validator) Problems(ops ...string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := append([]string(nil), v.errs...)
	for _, op := range ops {
		if !v.ops[op] {
			out = append(out, "never called: "+op)
		}
	}
	return out
}
