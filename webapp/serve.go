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
	sums := map[string]string{}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != 64 || name == "" || strings.Contains(name, "..") {
			return nil, fmt.Errorf("%w: %s line %d is not \"<sha256>  <name>\"", ErrBuild, FileSums, i+1)
		}
		sums[name] = sum
	}
	return sums, nil
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
