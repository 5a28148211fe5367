//go:build js && wasm

package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall/js"

	"github.com/assent-dev/assent/internal/jsutil"
)

// defaultTransport is the Transport of a Client made without one: the
// browser's fetch, so that the WebAssembly links neither net/http nor
// crypto/tls (the browser does TLS).
func defaultTransport() Transport { return fetchTransport{} }

// errBodyClosed: a read of an answer's body after Close.
var errBodyClosed = errors.New("device: answer body closed")

// fetchTransport sends with fetch: CORS mode, no cookies or HTTP
// authentication of the page's origin (credentials "omit": the device
// authenticates by its signature, and the API must get nothing else), no
// HTTP cache (every answer is live state), no referrer, and redirect
// "manual", under which fetch follows nothing and answers an opaque
// redirect that RoundTrip refuses. An AbortController aborts the exchange,
// body included, once ctx is done.
type fetchTransport struct{}

func (fetchTransport) RoundTrip(ctx context.Context, r *HTTPRequest) (*HTTPResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g := js.Global()
	ac := g.Get("AbortController").New()
	stop := context.AfterFunc(ctx, func() { ac.Call("abort") })
	opt := g.Get("Object").New()
	opt.Set("method", r.Method)
	opt.Set("mode", "cors")
	opt.Set("credentials", "omit")
	opt.Set("cache", "no-store")
	opt.Set("redirect", "manual")
	opt.Set("referrerPolicy", "no-referrer")
	opt.Set("signal", ac.Get("signal"))
	h := g.Get("Headers").New()
	for k, v := range r.Header {
		h.Call("set", k, v)
	}
	opt.Set("headers", h)
	if r.Body != nil {
		opt.Set("body", jsutil.Uint8Array(r.Body))
	}
	resp, err := jsutil.Await(ctx, g.Call("fetch", r.URL, opt))
	if err != nil {
		stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if resp.Get("type").String() == "opaqueredirect" {
		stop()
		return nil, fmt.Errorf("%w: the server answered with a redirect, which the device never follows", ErrProtocol)
	}
	out := &HTTPResponse{Status: resp.Get("status").Int(), Header: HTTPHeader{}}
	it := resp.Get("headers").Call("entries")
	for n := it.Call("next"); !n.Get("done").Bool(); n = it.Call("next") {
		kv := n.Get("value")
		out.Header.Set(kv.Index(0).String(), kv.Index(1).String())
	}
	body := &fetchBody{ctx: ctx, stop: stop}
	if b := resp.Get("body"); b.Type() == js.TypeObject {
		body.reader = b.Call("getReader")
	} else {
		body.err = io.EOF // no body (a 204, say)
	}
	out.Body = body
	return out, nil
}

// fetchBody streams an answer's body through its ReadableStream's reader,
// one chunk at a time, so that the event stream is read as it comes.
type fetchBody struct {
	ctx     context.Context
	stop    func() bool // ends the abort on ctx's end
	reader  js.Value
	pending []byte
	err     error // sticky
}

func (b *fetchBody) Read(p []byte) (int, error) {
	for len(b.pending) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		v, err := jsutil.Await(b.ctx, b.reader.Call("read"))
		switch {
		case b.ctx.Err() != nil:
			b.err = b.ctx.Err()
		case err != nil:
			b.err = fmt.Errorf("reading the answer: %w", err)
		case v.Get("done").Bool():
			b.err = io.EOF
		default:
			if b.pending, err = jsutil.Bytes(v.Get("value")); err != nil {
				b.err = fmt.Errorf("reading the answer: %w", err)
			}
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

// Close cancels the rest of the body (the browser drops the connection's
// stream) and ends the abort on ctx's end.
func (b *fetchBody) Close() error {
	if b.reader.Type() == js.TypeObject && b.err != errBodyClosed {
		b.reader.Call("cancel")
	}
	b.err, b.pending = errBodyClosed, nil
	b.stop()
	return nil
}
