package client_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/client"
)

// validator is an http.RoundTripper that checks every request and answer
// against api/openapi.yaml (kin-openapi's openapi3filter): the route, the
// parameters, JSON bodies both ways, and that the status is documented.
// Non-JSON bodies (uploads, downloads, the event stream) are not read.
type validator struct {
	next   http.RoundTripper
	router routers.Router

	mu   sync.Mutex
	errs []string
	ops  map[string]bool // operation ids seen
}

func newValidator(tb testing.TB, next http.RoundTripper) *validator {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIJSON)
	check(tb, err)
	doc.Servers = nil // any host: the test server listens on a random port
	r, err := legacy.NewRouter(doc)
	check(tb, err)
	return &validator{next: next, router: r, ops: map[string]bool{}}
}

func isJSON(h http.Header) bool {
	return strings.HasPrefix(h.Get("Content-Type"), "application/json")
}

func (v *validator) fail(req *http.Request, format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, req.Method+" "+req.URL.RequestURI()+": "+fmt.Sprintf(format, args...))
}

func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
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

// checkClean fails tb with every mismatch seen, and unless each of ops
// was exercised.
func (v *validator) checkClean(tb testing.TB, ops ...string) {
	tb.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range v.errs {
		tb.Errorf("OpenAPI: %s", e)
	}
	for _, op := range ops {
		if !v.ops[op] {
			tb.Errorf("OpenAPI: the flow never called %s", op)
		}
	}
}

// TestValidatorCatches: the validator is not a rubber stamp: an answer
// missing a required field, an undocumented status and an unknown path are
// each reported.
func TestValidatorCatches(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case api.PathUsers:
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"user_id":"usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`)
		default:
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, `{}`)
		}
	}))
	defer srv.Close()
	for _, call := range []func(c *client.Client) error{
		func(c *client.Client) error { _, err := c.CreateUser(t.Context(), "x", "y"); return err },
		func(c *client.Client) error {
			_, err := c.NewEnrollment(t.Context(), "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa")
			return err
		},
		func(c *client.Client) error {
			_, err := c.Devices(t.Context(), "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa/x")
			return err
		},
	} {
		v := newValidator(t, http.DefaultTransport)
		c, err := client.New(srv.URL, "k", &client.Options{HTTPClient: &http.Client{Transport: v}})
		check(t, err)
		_ = call(c)
		if len(v.errs) == 0 {
			t.Errorf("the validator let a bad exchange pass")
		}
	}
}
