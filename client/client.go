// Package client is the Go SDK for third parties of an Assent server: a
// clinic, a bank or a web app holding an API key. It creates users and
// their enrollment codes, seals records by streaming their content, asks
// for access, waits for the user's device to answer, and downloads what an
// approved session allows, checking the approved digest.
//
// Every refusal of the server is an *api.Error: test it with errors.Is
// against the values of package api (errors.Is(err, api.ErrNotFound)).
// Other errors are transport failures, a context ending, or
// ErrDigestMismatch.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/assent-dev/assent/api"
)

var (
	// ErrDigestMismatch is returned by Download when the content received
	// does not hash to the SHA-256 the server's Repr-Digest header carries
	// (the digest the device approved), or is not as long as announced.
	// What was written to the writer must then be discarded.
	ErrDigestMismatch = errors.New("client: downloaded content does not match its Repr-Digest")
	// ErrBadAnswer is wrapped when a 2xx answer cannot be read as the
	// route's body.
	ErrBadAnswer = errors.New("client: malformed answer")
	// ErrConfig is returned by New for a base URL that is not http(s) or an
	// empty API key.
	ErrConfig = errors.New("client: bad configuration")
)

// maxAnswer bounds how much of a JSON answer is read.
const maxAnswer = 8 << 20

// Options tune a Client. The zero value is usable.
type Options struct {
	// HTTPClient sends the requests; http.DefaultClient if nil. Its Timeout,
	// if any, must exceed the long polls (api.MaxWaitSeconds).
	HTTPClient *http.Client
	// UserAgent is sent as User-Agent when set.
	UserAgent string
}

// Client is a third party's connection to one Assent server. It is safe for
// concurrent use.
type Client struct {
	base *url.URL
	key  string
	hc   *http.Client
	ua   string
}

// New returns a client of the server at baseURL (for example
// "https://assent.example.com") authenticating with apiKey. opts may be nil.
// It fails with ErrConfig for a URL that is not http or https, or an empty
// key; it sends nothing.
func New(baseURL, apiKey string, opts *Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: base URL must be http(s)://host[:port][/path]", ErrConfig)
	}
	if apiKey == "" || strings.ContainsAny(apiKey, " \r\n") {
		return nil, fmt.Errorf("%w: empty or malformed API key", ErrConfig)
	}
	c := &Client{base: u, key: apiKey, hc: http.DefaultClient}
	if opts != nil {
		if opts.HTTPClient != nil {
			c.hc = opts.HTTPClient
		}
		c.ua = opts.UserAgent
	}
	return c, nil
}

// newRequest builds a request for path (which may carry a query) with the
// API key.
func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set(api.HeaderAuthorization, api.BearerPrefix+c.key)
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	return req, nil
}

// do sends req and checks its status; on success the caller closes the body.
func (c *Client) do(req *http.Request, want int) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if err := CheckResponse(resp, want); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// CheckResponse is api.CheckStatus on an *http.Response: nil if resp has
// status want, the *api.Error of a non-2xx answer (its body read, up to
// api.MaxErrorBody bytes, and not closed), api.ErrUnexpectedStatus wrapped
// for another 2xx status.
func CheckResponse(resp *http.Response, want int) error {
	return api.CheckStatus(resp.StatusCode, want, resp.Header.Get, resp.Body)
}

// call sends in as JSON (no body if nil) and decodes an answer of status
// want into out (ignored if nil).
func (c *Client) call(ctx context.Context, method, path string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.do(req, want)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decode(resp, out)
}

// decode reads a JSON answer into out. Unknown fields are accepted, so that
// a newer server's additions do not break an older client.
func decode(resp *http.Response, out any) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrBadAnswer, resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}
