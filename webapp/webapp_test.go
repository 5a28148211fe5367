package webapp

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var fakeWasm = []byte("\x00asm\x01\x00\x00\x00 not really a device")

func build(t *testing.T, api string) *Bundle {
	t.Helper()
	b, err := Build(context.Background(), BuildOptions{Out: t.TempDir(), API: api, Wasm: fakeWasm})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func read(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sri384(b []byte) string {
	h := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(h[:])
}

// Every script, the stylesheet and the wasm are pinned by the file that
// loads them, SHA256SUMS names every file with its hash, and the service
// worker pins every file but itself.
func TestBuildPinsTheBundle(t *testing.T) {
	b := build(t, "https://api.example/prefix/")
	dir := b.Dir
	index := string(read(t, dir, FileIndex))
	app := read(t, dir, FileApp)
	for name, attr := range map[string]string{FileApp: "src", FileWasmExec: "src", FileCSS: "href"} {
		want := attr + `="` + name + `" integrity="` + sri384(read(t, dir, name)) + `"`
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	if !strings.Contains(string(app), `"`+sri384(fakeWasm)+`"`) || !strings.Contains(string(app), `const API_URL = "https://api.example/prefix";`) {
		t.Error("app.js does not pin the wasm or name the API")
	}
	csp := `content="default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' https://api.example; style-src 'self'; img-src 'self' data:; manifest-src 'self'; worker-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"`
	if !strings.Contains(index, csp) || b.CSP != CSP("https://api.example") {
		t.Errorf("index.html CSP:\n%s", index)
	}
	// No script, style or handler inline: the CSP would refuse them anyway.
	if regexp.MustCompile(`<script>|<style|\son[a-z]+=`).MatchString(index) {
		t.Error("index.html has inline code")
	}

	sums, err := ReadSums(dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(sums) != len(entries)-1 {
		t.Errorf("SHA256SUMS names %d files, the bundle has %d besides it", len(sums), len(entries)-1)
	}
	for name, sum := range sums {
		h := sha256.Sum256(read(t, dir, name))
		if hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: SHA256SUMS %s, file %x", name, sum, h)
		}
	}
	if err := Verify(dir, sums); err != nil {
		t.Fatal(err)
	}
	sw := string(read(t, dir, FileSW))
	m := regexp.MustCompile(`const PINS = (\{.*\});`).FindStringSubmatch(sw)
	if m == nil {
		t.Fatal("sw.js has no pins")
	}
	var pins map[string]string
	if err := json.Unmarshal([]byte(m[1]), &pins); err != nil {
		t.Fatal(err)
	}
	for name, sum := range sums {
		raw, _ := hex.DecodeString(sum)
		want := "sha256-" + base64.StdEncoding.EncodeToString(raw)
		if name == FileSW {
			if _, ok := pins[name]; ok {
				t.Error("sw.js pins itself")
			}
			continue
		}
		if pins[name] != want {
			t.Errorf("sw.js pins %s as %q, want %q", name, pins[name], want)
		}
	}
	if !strings.Contains(sw, `const VERSION = "`+b.Version+`";`) {
		t.Error("sw.js lacks the version")
	}

	// Another API gives another bundle version.
	if other := build(t, "https://api2.example"); other.Version == b.Version {
		t.Error("the version does not depend on the bundle's contents")
	}
}

func TestBuildRefusesBadAPIURL(t *testing.T) {
	for _, api := range []string{"", "api.example", "http://api.example", "https://u:p@api.example", "https://api.example?x=1", "ftp://api.example", "https://api.example#f"} {
		_, err := Build(context.Background(), BuildOptions{Out: t.TempDir(), API: api, Wasm: fakeWasm})
		if !errors.Is(err, ErrAPIURL) {
			t.Errorf("%q: %v, want ErrAPIURL", api, err)
		}
	}
	if o, err := APIOrigin("http://127.0.0.1:8080/"); err != nil || o != "http://127.0.0.1:8080" {
		t.Errorf("loopback: %q %v", o, err)
	}
}

func TestVerifyAndReadSumsRefuseDamage(t *testing.T) {
	b := build(t, "https://api.example")
	if err := os.WriteFile(filepath.Join(b.Dir, FileApp), []byte("evil()"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Verify(b.Dir, b.Sums); !errors.Is(err, ErrBuild) || !strings.Contains(err.Error(), FileApp) {
		t.Fatalf("Verify after a changed app.js: %v", err)
	}
	for _, bad := range []string{"nothex  app.js\n", strings.Repeat("a", 64) + "  ../etc/passwd\n", strings.Repeat("a", 64) + " app.js\n"} {
		if err := os.WriteFile(filepath.Join(b.Dir, FileSums), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSums(b.Dir); !errors.Is(err, ErrBuild) {
			t.Errorf("ReadSums(%q): %v", bad, err)
		}
	}
}

// The trial server sends the CSP with frame-ancestors, serves only the
// bundle's files, never a listing, and only GET and HEAD.
func TestHandler(t *testing.T) {
	b := build(t, "https://api.example")
	if err := os.WriteFile(filepath.Join(b.Dir, "secret.txt"), []byte("not in the bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(Handler(b.Dir, b.CSP, b.Sums))
	defer ts.Close()
	get := func(method, path string) (*http.Response, string) {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, body := get(http.MethodGet, "/")
	if resp.StatusCode != 200 || !strings.Contains(body, "<title>Assent approvals</title>") {
		t.Fatalf("/: %d", resp.StatusCode)
	}
	for k, v := range map[string]string{
		"Content-Security-Policy": b.CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"Cache-Control": "no-cache",
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Error("no frame-ancestors")
	}
	if resp, _ := get(http.MethodGet, "/device.wasm"); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/wasm" {
		t.Errorf("device.wasm: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := get(http.MethodGet, "/index.html"); resp.StatusCode != 200 {
		t.Errorf("/index.html: %d", resp.StatusCode)
	}
	for _, p := range []string{"/secret.txt", "/static/", "/../go.mod", "/nope.js"} {
		if resp, _ := get(http.MethodGet, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp, _ := get(http.MethodPost, "/app.js"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

// FuzzParseSums: any input either parses into names Handler may serve (no
// path, no dot first) with 64-hex sums that print back to the same file,
// or fails with ErrBuild. Seeded with a real bundle's SHA256SUMS.
func FuzzParseSums(f *testing.F) {
	dir := f.TempDir()
	if _, err := Build(context.Background(), BuildOptions{Out: dir, API: "https://api.example", Wasm: fakeWasm}); err != nil {
		f.Fatal(err)
	}
	real, err := os.ReadFile(filepath.Join(dir, FileSums))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real)
	f.Add([]byte(""))
	f.Add([]byte(strings.Repeat("a", 64) + "  ../x\n"))
	f.Add([]byte(strings.Repeat("A", 64) + "  x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sums, err := ParseSums(b)
		if err != nil {
			if !errors.Is(err, ErrBuild) {
				t.Fatalf("error %v does not wrap ErrBuild", err)
			}
			return
		}
		for name, sum := range sums {
			if strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") || len(sum) != 64 {
				t.Fatalf("accepted %q %q", name, sum)
			}
		}
		if len(sums) != strings.Count(string(b), "\n") {
			t.Fatalf("%d sums from %d lines", len(sums), strings.Count(string(b), "\n"))
		}
	})
}
