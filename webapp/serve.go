package webapp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Handler serves a built bundle from dir for trials (assent app serve),
// with the headers the app's hardening needs: the CSP (with
// frame-ancestors, which a meta tag cannot carry), nosniff, no referrer,
// same-origin opener, and no caching of index.html and sw.js so that a
// changed bundle is noticed by the service worker at once. Only the
// bundle's files are served, never a directory listing.
func Handler(dir, csp string, sums map[string]string) http.Handler {
	sums = maps.Clone(sums)
	fsrv := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" {
			name = FileIndex
		}
		if _, ok := sums[name]; !ok && name != FileSums {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), publickey-credentials-get=(self), publickey-credentials-create=(self)")
		// Revalidated on every load: a changed file must reach the service
		// worker's check, not hide behind a cache.
		h.Set("Cache-Control", "no-cache")
		if name == FileIndex {
			r.URL.Path = "/"
		}
		fsrv.ServeHTTP(w, r)
	})
}

// ReadSums reads the SHA256SUMS of a built bundle in dir: file name to hex
// SHA-256. ErrBuild if it is missing or malformed.
func ReadSums(dir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileSums))
	if err != nil {
		return nil, fmt.Errorf("%w: %v (run assent app build first)", ErrBuild, err)
	}
	return ParseSums(b)
}

// ParseSums parses a SHA256SUMS file as Build writes it: lines of 64
// lowercase hex digits, two spaces and a file name of the bundle (no
// directory part, no "..", each once), each ending in a newline.
// ErrBuild for anything else.
func ParseSums(b []byte) (map[string]string, error) {
	text, ok := strings.CutSuffix(string(b), "\n")
	if !ok || text == "" {
		return nil, fmt.Errorf("%w: %s is empty or lacks its last newline", ErrBuild, FileSums)
	}
	sums := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		raw, err := hex.DecodeString(sum)
		if !ok || err != nil || len(raw) != sha256.Size || hex.EncodeToString(raw) != sum || !validName(name) {
			return nil, fmt.Errorf("%w: %s line %d is not \"<sha256>  <name>\"", ErrBuild, FileSums, i+1)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("%w: %s names %s twice", ErrBuild, FileSums, name)
		}
		sums[name] = sum
	}
	return sums, nil
}

// validName accepts a bundle file name: letters, digits, '.', '-', '_',
// not starting with a dot.
func validName(name string) bool {
	if name == "" || name[0] == '.' || len(name) > 128 {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '.' && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

// Verify checks every file of sums in dir against its SHA-256, so that a
// server never serves a bundle other than the one its SHA256SUMS names.
func Verify(dir string, sums map[string]string) error {
	for name, want := range sums {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBuild, err)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != want {
			return fmt.Errorf("%w: %s does not match %s", ErrBuild, name, FileSums)
		}
	}
	return nil
}
