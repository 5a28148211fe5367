package device

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
)

// TestNoRedirects: a redirect answer is an error, never followed, so that
// signed headers, answers and enrollment codes go nowhere but to the
// server the device was enrolled with (a 307 would re-send them, body
// included, even from https to http): with the default transport and with
// HTTPTransport of nil or of the caller's own http.Client, which is not
// changed.
func TestNoRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	defer other.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()

	own := &http.Client{}
	for _, tr := range []Transport{nil, HTTPTransport(nil), HTTPTransport(own)} {
		id := newIdentity(t, redirect.URL)
		defer id.Destroy()
		c, err := NewClient(redirect.URL, id, ClientOptions{Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var ae *APIError
		if _, err := c.PendingRequests(ctx); !errors.As(err, &ae) || ae.Status != http.StatusTemporaryRedirect {
			t.Errorf("signed GET through a 307: %v, want an APIError 307", err)
		}
		if _, err := c.Enroll(ctx, "ABCDE-FGHIJ-KLMNO-PQRST", EnrollOptions{Name: "phone"}); !errors.As(err, &ae) || ae.Status != http.StatusTemporaryRedirect {
			t.Errorf("enrollment POST through a 307: %v, want an APIError 307", err)
		}
		err = c.Events(ctx, 0, func() { t.Error("event stream connected through a redirect") }, func(string) {})
		if !errors.As(err, &ae) || ae.Status != http.StatusTemporaryRedirect {
			t.Errorf("event stream through a 307: %v, want an APIError 307", err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("%d requests followed the redirect to another server", n)
	}
	if own.CheckRedirect != nil {
		t.Error("NewClient changed the caller's http.Client")
	}
}

// TestNoCookies: the device authenticates by its signature alone, so a
// cookie jar on the caller's http.Client is not used (the server could
// otherwise tie the device's calls to state of its own choosing), and the
// caller's client keeps its jar.
func TestNoCookies(t *testing.T) {
	var withCookie atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Cookies()) > 0 {
			withCookie.Add(1)
		}
		http.SetCookie(w, &http.Cookie{Name: "track", Value: "1", Path: "/"})
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: "x", Path: "/"}})
	own := &http.Client{Jar: jar}
	id := newIdentity(t, srv.URL)
	defer id.Destroy()
	c, err := NewClient(srv.URL, id, ClientOptions{Transport: HTTPTransport(own)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.PendingRequests(context.Background()); err == nil {
			t.Fatal("a 418 answer was taken as a list")
		}
	}
	if n := withCookie.Load(); n != 0 {
		t.Errorf("%d device calls carried cookies", n)
	}
	if own.Jar != jar {
		t.Error("HTTPTransport changed the caller's http.Client")
	}
}
