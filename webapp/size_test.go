package webapp

import (
	"bytes"
	"compress/gzip"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The WebAssembly users get (BuildWasm without the self-test tag) stays
// under MaxWasmGzip gzipped, and links neither net/http nor crypto/tls
// (the browser's fetch carries the requests) nor the test instruments.
func TestWasmSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wasm, err := BuildWasm(ctx, "..", "", false)
	if err != nil {
		t.Fatal(err)
	}
	var best bytes.Buffer
	w, _ := gzip.NewWriterLevel(&best, gzip.BestCompression)
	_, _ = w.Write(wasm)
	_ = w.Close()
	gz := GzipSize(wasm)
	t.Logf("device.wasm: %d bytes (%.2f MiB), gzipped %d bytes (%.2f MiB), gzip -9 %d bytes (%.2f MiB); budget %.2f MiB gzipped",
		len(wasm), float64(len(wasm))/(1<<20), gz, float64(gz)/(1<<20), best.Len(), float64(best.Len())/(1<<20), float64(MaxWasmGzip)/(1<<20))
	if gz >= MaxWasmGzip {
		t.Errorf("device.wasm is %d bytes gzipped, over the budget of %d: find what grew (go list -deps, and the per-package sizes of a non-stripped build)", gz, MaxWasmGzip)
	}

	cmd := exec.CommandContext(ctx, "go", "list", "-deps", WasmPackage)
	cmd.Dir = ".."
	cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == "net/http", p == "crypto/tls", p == "testing", p == "image/png",
			strings.HasSuffix(p, "/device/storagetest"), strings.HasSuffix(p, "/approvalbench"):
			t.Errorf("device.wasm links %s", p)
		}
	}
}

// GzipSize is what gzip at the default level makes.
func TestGzipSize(t *testing.T) {
	b := bytes.Repeat([]byte("assent "), 1000)
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	if n := GzipSize(b); n != buf.Len() || n >= len(b) {
		t.Fatalf("GzipSize %d, gzip %d, raw %d", n, buf.Len(), len(b))
	}
}
