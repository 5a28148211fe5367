package webapp_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/assent-dev/assent/webapp"
)

// badAPI is a server with the answers the device's fetch transport must
// refuse, under four prefixes (see transportCheck in webapp/wasm), with
// the CORS headers of a real API for the app's origin. It records what it
// saw: requests that reached the redirect's target, and requests whose
// client went away (the fetch aborted).
type badAPI struct {
	elsewhere atomic.Int32
	aborted   chan string
}

func (b *badAPI) handler(appOrigin, elsewhere string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", appOrigin)
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Accept, Assent-Device, Assent-Timestamp, Assent-Nonce, Assent-Signature")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		prefix, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch prefix {
		case "redirect":
			http.Redirect(w, r, elsewhere+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		case "stall":
			b.waitAbort(r, "stall")
		case "stream":
			h.Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			b.waitAbort(r, "stream")
		case "big":
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"device_id":"%s"}`, strings.Repeat("a", 9<<20))
		default:
			http.NotFound(w, r)
		}
	})
}

// waitAbort holds the request until its client goes away, for at most a
// minute, and says so on b.aborted if it did.
func (b *badAPI) waitAbort(r *http.Request, what string) {
	// net/http notices a client going away only once the body is read.
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
		b.aborted <- what
	case <-time.After(time.Minute):
	}
}

// TestFetchTransportBadPaths runs the device's fetch transport in Chromium
// through the bad paths that matter (assentDevice.transportCheck, built in
// with webapp.SelfTestTag): a redirect is refused and not followed; a
// request timeout aborts the fetch, and cancelling the context aborts an
// event stream already streaming, both seen by the server as the client
// going away; an answer over the device's limit is refused.
func TestFetchTransportBadPaths(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly and drives a browser")
	}
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()

	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	appURL := fmt.Sprintf("http://localhost:%d", appLn.Addr().(*net.TCPAddr).Port)
	bad := &badAPI{aborted: make(chan string, 4)}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad.elsewhere.Add(1)
		w.Header().Set("Access-Control-Allow-Origin", appURL)
		w.WriteHeader(http.StatusTeapot)
	}))
	defer other.Close()
	apiSrv := httptest.NewServer(bad.handler(appURL, other.URL))
	defer apiSrv.Close()

	b, err := webapp.Build(ctx, webapp.BuildOptions{Out: filepath.Join(t.TempDir(), "bundle"), API: apiSrv.URL, SrcDir: "..", SelfTest: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: webapp.Handler(b.Dir, b.CSP, b.Sums), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(appLn) }()
	defer srv.Close()

	_, run := startBrowser(t, ctx, exe)
	var res map[string]struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	run("open the app", chromedp.Navigate(appURL), chromedp.Poll(`typeof assentDevice === "object"`, nil))
	run("transport check", evalAwait(fmt.Sprintf(`assentDevice.transportCheck(%q)`, apiSrv.URL), &res))
	for _, name := range []string{"redirect", "timeout", "over_limit", "cancel_stream"} {
		c, ok := res[name]
		switch {
		case !ok:
			t.Errorf("%s: not run", name)
		case !c.OK:
			t.Errorf("%s: the device said %q", name, c.Error)
		default:
			t.Logf("%s: refused: %s", name, c.Error)
		}
	}
	if n := bad.elsewhere.Load(); n != 0 {
		t.Errorf("%d requests followed the redirect", n)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case what := <-bad.aborted:
			seen[what] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("the server saw the client go away only for %v, want stall and stream: the fetch was not aborted", seen)
		}
	}
}
