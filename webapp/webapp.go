// Package webapp builds and serves the approval app, DESIGN.md's "The
// approval app (the phone in a browser)": a static bundle of HTML, a little
// JavaScript, the device package compiled to WebAssembly (webapp/wasm), a
// service worker and a web manifest.
//
// Build writes the bundle: the static files embedded here, the WebAssembly
// built from source with GOOS=js GOARCH=wasm, Go's wasm_exec.js, and a
// SHA256SUMS file naming the SHA-256 of every file. The build fills in what
// pins the bundle to itself: the Subresource Integrity of every script and
// stylesheet in index.html, the integrity app.js passes to fetch for the
// WebAssembly, the hashes the service worker checks the served files
// against, and the Content-Security-Policy. The API server never serves the
// bundle: Handler serves it (assent app serve) for trials, and production
// hosts it on an origin the API operator does not control.
package webapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed static
var static embed.FS

// Files of the bundle that the build writes or fills in.
const (
	FileIndex    = "index.html"
	FileApp      = "app.js"
	FileCSS      = "app.css"
	FileSW       = "sw.js"
	FileWasm     = "device.wasm"
	FileWasmExec = "wasm_exec.js"
	FileSums     = "SHA256SUMS"
	// WasmPackage is the main package of the WebAssembly device.
	WasmPackage = "github.com/assent-dev/assent/webapp/wasm"
)

// Placeholders in the embedded files, replaced by Build.
const (
	phCSP      = "__ASSENT_CSP__"
	phAPI      = "__ASSENT_API__"
	phVersion  = "__ASSENT_VERSION__"
	phPins     = "__ASSENT_PINS__"
	phSRIApp   = "__ASSENT_SRI_APP__"
	phSRIExec  = "__ASSENT_SRI_EXEC__"
	phSRICSS   = "__ASSENT_SRI_CSS__"
	phSRIWasm  = "__ASSENT_SRI_WASM__"
	phWasmSize = "__ASSENT_WASM_SIZE__"
)

// Errors of Build.
var (
	// ErrAPIURL: the API URL is not an absolute https URL (or http to a
	// loopback host) without query or fragment.
	ErrAPIURL = errors.New("webapp: the API URL must be https://host[:port][/prefix], or http to a loopback host")
	// ErrBuild: the WebAssembly or the bundle could not be built.
	ErrBuild = errors.New("webapp: building the bundle failed")
)

// BuildOptions are the inputs of Build.
type BuildOptions struct {
	// Out is the directory to write the bundle to; it is made if missing,
	// and files of the bundle in it are replaced.
	Out string
	// API is the URL of the Assent API the app talks to: it is the
	// enrollment screen's default and the CSP's connect-src.
	API string
	// Wasm, if set, is a device.wasm built already (tests build it once);
	// otherwise Build runs the go command.
	Wasm []byte
	// SrcDir is the directory of the assent module the WebAssembly is built
	// from (default: the current directory, which must be inside it).
	SrcDir string
	// Go is the go command (default "go" from $PATH).
	Go string
	// SelfTest builds the WebAssembly with the in-page test instruments
	// (SelfTestTag) for the browser tests. Never set it for a bundle users
	// get: they have no use for it, and it grows the WebAssembly.
	SelfTest bool
}

// Bundle describes a bundle Build wrote.
type Bundle struct {
	Dir     string
	Version string            // hex, from the hashes of every file but sw.js
	Sums    map[string]string // file name -> hex SHA-256, every file but SHA256SUMS
	CSP     string            // the Content-Security-Policy the pages carry
}

// APIOrigin returns the origin of an API URL after checking it as
// ErrAPIURL says.
func APIOrigin(api string) (string, error) {
	u, err := url.Parse(api)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", ErrAPIURL
	}
	switch u.Scheme {
	case "https":
	case "http":
		h := u.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return "", ErrAPIURL
		}
	default:
		return "", ErrAPIURL
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// CSP returns the Content-Security-Policy of the app's pages for an API
// origin: DESIGN.md's policy, with 'self' added to connect-src (the
// WebAssembly is fetched with fetch, which connect-src governs) and the
// sources the pages need of their own origin (stylesheet, icons, manifest,
// service worker). frame-ancestors is honoured only as a header; Handler
// sends it so.
func CSP(apiOrigin string) string {
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self' 'wasm-unsafe-eval'",
		"connect-src 'self' " + apiOrigin,
		"style-src 'self'",
		"img-src 'self' data:",
		"manifest-src 'self'",
		"worker-src 'self'",
		"form-action 'none'",
		"base-uri 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// Build writes the bundle to o.Out (see the package doc).
func Build(ctx context.Context, o BuildOptions) (*Bundle, error) {
	origin, err := APIOrigin(o.API)
	if err != nil {
		return nil, err
	}
	apiURL := strings.TrimSuffix(o.API, "/")
	files := map[string][]byte{}
	err = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		files[strings.TrimPrefix(p, "static/")] = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	wasm := o.Wasm
	if wasm == nil {
		if wasm, err = BuildWasm(ctx, o.SrcDir, o.Go, o.SelfTest); err != nil {
			return nil, err
		}
	}
	files[FileWasm] = wasm
	if files[FileWasmExec], err = wasmExec(ctx, o.Go); err != nil {
		return nil, err
	}

	csp := CSP(origin)
	// Fill in, innermost first: app.js needs the wasm's hash, index.html
	// the scripts', sw.js every file's.
	files[FileApp] = replace(files[FileApp], phSRIWasm, sri(files[FileWasm]), phAPI, jsString(apiURL),
		phWasmSize, fmt.Sprint(len(files[FileWasm])))
	files[FileIndex] = replace(files[FileIndex], phCSP, htmlAttr(csp), phAPI, htmlAttr(apiURL),
		phSRIApp, sri(files[FileApp]), phSRIExec, sri(files[FileWasmExec]), phSRICSS, sri(files[FileCSS]))
	sums := map[string]string{}
	pins := map[string]string{}
	for name, b := range files {
		if name == FileSW {
			continue
		}
		h := sha256.Sum256(b)
		sums[name] = hex.EncodeToString(h[:])
		pins[name] = "sha256-" + base64.StdEncoding.EncodeToString(h[:])
	}
	version := versionOf(sums)
	pinJSON, err := json.Marshal(pins)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	files[FileSW] = replace(files[FileSW], phVersion, jsString(version), phPins, string(pinJSON))
	h := sha256.Sum256(files[FileSW])
	sums[FileSW] = hex.EncodeToString(h[:])
	for name, b := range files {
		for _, ph := range []string{phCSP, phAPI, phVersion, phPins, phSRIApp, phSRIExec, phSRICSS, phSRIWasm, phWasmSize} {
			if bytes.Contains(b, []byte(ph)) {
				return nil, fmt.Errorf("%w: %s still holds %s", ErrBuild, name, ph)
			}
		}
	}

	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	for name, b := range files {
		p := filepath.Join(o.Out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBuild, err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBuild, err)
		}
	}
	if err := os.WriteFile(filepath.Join(o.Out, FileSums), sumsFile(sums), 0o644); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	return &Bundle{Dir: o.Out, Version: version, Sums: sums, CSP: csp}, nil
}

// SelfTestTag is the build tag of the WebAssembly's test instruments:
// assentDevice.selfTest (device/storagetest on IndexedDB), bench (the
// approval's CPU work) and transportCheck (the fetch transport's bad
// paths), which only the browser tests call.
const SelfTestTag = "assentselftest"

// BuildWasm builds the WebAssembly device (GOOS=js GOARCH=wasm, stripped,
// -trimpath) from the module at srcDir ("" for the current directory),
// with SelfTestTag if selfTest.
func BuildWasm(ctx context.Context, srcDir, goCmd string, selfTest bool) ([]byte, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	tmp, err := os.MkdirTemp("", "assent-wasm-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, FileWasm)
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}
	if selfTest {
		args = append(args, "-tags", SelfTestTag)
	}
	cmd := exec.CommandContext(ctx, goCmd, append(args, WasmPackage)...)
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: go build %s (run from the assent source tree, or pass its directory): %v\n%s", ErrBuild, WasmPackage, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	return b, nil
}

// wasmExec reads the wasm_exec.js of the Go toolchain that builds the
// WebAssembly: the two must match.
func wasmExec(ctx context.Context, goCmd string) ([]byte, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	root, err := exec.CommandContext(ctx, goCmd, "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("%w: go env GOROOT: %v", ErrBuild, err)
	}
	dir := strings.TrimSpace(string(root))
	for _, p := range []string{filepath.Join(dir, "lib", "wasm", FileWasmExec), filepath.Join(dir, "misc", "wasm", FileWasmExec)} {
		if b, err := os.ReadFile(p); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: no %s under %s", ErrBuild, FileWasmExec, dir)
}

func replace(b []byte, pairs ...string) []byte {
	for i := 0; i+1 < len(pairs); i += 2 {
		b = bytes.ReplaceAll(b, []byte(pairs[i]), []byte(pairs[i+1]))
	}
	return b
}

// sri returns the Subresource Integrity value of b (SHA-384).
func sri(b []byte) string {
	h := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(h[:])
}

// jsString returns s as a JavaScript string literal (JSON is one).
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// htmlAttr escapes s for a double-quoted HTML attribute.
func htmlAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func sortedNames(sums map[string]string) []string {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// versionOf is the bundle version: the first 16 hex digits of the SHA-256
// of the SHA256SUMS lines of every file but sw.js (which carries it).
func versionOf(sums map[string]string) string {
	h := sha256.New()
	for _, n := range sortedNames(sums) {
		fmt.Fprintf(h, "%s  %s\n", sums[n], n)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// sumsFile is the SHA256SUMS text (sha256sum -c reads it).
func sumsFile(sums map[string]string) []byte {
	var b bytes.Buffer
	for _, n := range sortedNames(sums) {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	return b.Bytes()
}
