package webapp

import (
	"bytes"
	"compress/gzip"
)

// MaxWasmGzip is the size budget of device.wasm gzipped (issue 12: under
// 2 MiB), which a phone on a slow network downloads before the app is
// ready; a test holds the WebAssembly BuildWasm makes under it.
const MaxWasmGzip = 2 << 20

// GzipSize returns the size of b gzipped at the default level, as a
// static file server or CDN typically sends it.
func GzipSize(b []byte) int {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b) // a bytes.Buffer does not fail
	_ = w.Close()
	return buf.Len()
}
