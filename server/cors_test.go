package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const testAppOrigin = "https://app.example"

func preflight(t *testing.T, e *testEnv, origin, path, method, headers string) *resp {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, e.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	return e.send(req)
}

// The preflight of a listed origin allows the device's signed calls (its
// four authentication headers and a JSON body); any other origin gets a 403
// without a single CORS header, and so do simple requests from it.
func TestCORSAllowList(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AppOrigins = []string{testAppOrigin, "http://127.0.0.1:9999"} })
	d := e.userWithDevice(t)
	signedHeaders := "assent-device,assent-nonce,assent-signature,assent-timestamp,content-type"

	r := preflight(t, e, testAppOrigin, "/v1/device/requests/req_aaaaaaaaaaaaaaaaaaaaaaaaaa/response", http.MethodPost, signedHeaders)
	r.want(t, http.StatusNoContent)
	if got := r.header.Get("Access-Control-Allow-Origin"); got != testAppOrigin {
		t.Fatalf("Allow-Origin %q", got)
	}
	allowed := strings.ToLower(r.header.Get("Access-Control-Allow-Headers"))
	for _, h := range strings.Split(signedHeaders, ",") {
		if !strings.Contains(allowed, h) {
			t.Errorf("Allow-Headers %q lacks %s", allowed, h)
		}
	}
	if m := r.header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") || !strings.Contains(m, "GET") {
		t.Errorf("Allow-Methods %q", m)
	}
	if r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials allowed: the API has no cookies to share")
	}
	if v := r.header.Values("Vary"); !strings.Contains(strings.Join(v, ","), "Origin") {
		t.Errorf("Vary %q lacks Origin", v)
	}

	// The enrollment route, which is not signed, is allowed too.
	preflight(t, e, "http://127.0.0.1:9999", "/v1/device/enroll", http.MethodPost, "content-type").want(t, http.StatusNoContent)

	for _, o := range []string{"https://evil.example", "https://app.example.evil", "null", "https://APP.example", "http://app.example"} {
		r := preflight(t, e, o, "/v1/device/requests", http.MethodGet, signedHeaders)
		r.want(t, http.StatusForbidden)
		for k := range r.header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("origin %q got %s", o, k)
			}
		}
	}

	// A real signed call from the listed origin is marked for the browser;
	// from another origin it is answered (CORS is the browser's check) but
	// carries no Allow-Origin, so no page there can read it.
	for _, tc := range []struct {
		origin, want string
	}{{testAppOrigin, testAppOrigin}, {"https://evil.example", ""}} {
		req := d.signed(t, http.MethodGet, "/v1/device/requests?state=pending", nil, e.clock.Now(), newNonce(t))
		req.Header.Set("Origin", tc.origin)
		r := e.send(req)
		r.want(t, http.StatusOK)
		if got := r.header.Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("origin %q: Allow-Origin %q, want %q", tc.origin, got, tc.want)
		}
	}
}

// Without an allow-list, no origin is allowed.
func TestCORSNoOrigins(t *testing.T) {
	e := newEnv(t, nil)
	r := preflight(t, e, testAppOrigin, "/v1/device/enroll", http.MethodPost, "content-type")
	r.want(t, http.StatusForbidden)
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("allowed without a list")
	}
}

func TestCheckAppOrigin(t *testing.T) {
	for _, o := range []string{"https://app.example", "https://app.example:8443", "http://127.0.0.1:8081", "http://localhost:3000", "http://[::1]:80"} {
		if err := CheckAppOrigin(o); err != nil {
			t.Errorf("%q: %v", o, err)
		}
	}
	for _, o := range []string{"", "app.example", "http://app.example", "https://app.example/", "https://app.example/app",
		"https://APP.example", "https://u@app.example", "https://app.example?x", "https://app.example#f", "null", "ftp://app.example", "*"} {
		if err := CheckAppOrigin(o); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v, want ErrConfig", o, err)
		}
	}
	c := testConfig().WithDefaults()
	c.AppOrigins = []string{"https://ok.example", "https://bad.example/"}
	if err := c.Validate(); !errors.Is(err, ErrConfig) {
		t.Fatalf("Validate: %v", err)
	}
}

// FuzzCheckAppOrigin: an accepted origin is exactly scheme://host[:port]
// as net/url reads it back, https or http on loopback, lower case.
func FuzzCheckAppOrigin(f *testing.F) {
	for _, s := range []string{"https://app.example", "http://127.0.0.1:8081", "http://localhost:3000", "http://[::1]:80",
		"https://app.example/", "null", "https://APP.example", "https://u@h", "http://evil.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		if err := CheckAppOrigin(origin); err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			return
		}
		u, err := url.Parse(origin)
		if err != nil || u.Scheme+"://"+u.Host != origin || strings.ToLower(origin) != origin {
			t.Fatalf("accepted %q", origin)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
			t.Fatalf("accepted %q: neither https nor loopback http", origin)
		}
	})
}
