// Package secret holds the one helper every Assent package uses to clear
// key material (DEK, KEK, OPRF outputs, blinds) once it is no longer needed.
//
// Clearing memory in Go is best effort: the garbage collector may have copied
// a buffer before it is cleared. The rules that make it worthwhile are kept
// everywhere else in the code: secrets live in []byte, never in strings, and
// their lifetime is kept short.
package secret

import "runtime"

// Clear overwrites every byte of each buffer with zero. Nil and empty buffers
// are allowed.
func Clear(bufs ...[]byte) {
	for _, b := range bufs {
		clear(b)
	}
	// Keep the buffers reachable until the writes are done, so the compiler
	// cannot treat them as dead stores.
	runtime.KeepAlive(bufs)
}
