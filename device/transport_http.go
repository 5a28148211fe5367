//go:build !js

package device

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
)

// HTTPTransport returns a Transport sending with a copy of hc (nil: a new
// http.Client without a global timeout, since the event stream is
// long-lived; each other call is bounded by ClientOptions.RequestTimeout)
// that never follows redirects: a redirect answer comes back as it is, and
// the Client makes it an *APIError with its 3xx status, and sends no
// cookies (hc's Jar is dropped). hc itself is not changed.
func HTTPTransport(hc *http.Client) Transport {
	t := &httpTransport{hc: &http.Client{}}
	if hc != nil {
		*t.hc = *hc
	}
	t.hc.CheckRedirect = noRedirects
	// The device authenticates by its signature alone: a cookie jar the
	// caller's client carries would add credentials of its own.
	t.hc.Jar = nil
	return t
}

// defaultTransport is the Transport of a Client made without one.
func defaultTransport() Transport { return HTTPTransport(nil) }

type httpTransport struct{ hc *http.Client }

// noRedirects makes an http.Client return a redirect answer as it is.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (t *httpTransport) RoundTrip(ctx context.Context, r *HTTPRequest) (*HTTPResponse, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, unwrapURLError(err)
	}
	h := make(HTTPHeader, len(resp.Header))
	for k, v := range resp.Header {
		if len(v) > 0 {
			h.Set(k, v[0])
		}
	}
	return &HTTPResponse{Status: resp.StatusCode, Header: h, Body: resp.Body}, nil
}

// unwrapURLError drops net/url's wrapper, which repeats the whole URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
