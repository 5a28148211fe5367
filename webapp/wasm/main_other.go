//go:build !(js && wasm)

// Command wasm is the approval app's device; it runs only as WebAssembly
// in a browser (GOOS=js GOARCH=wasm; assent app build builds it).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "this is the approval app's WebAssembly device: build it with GOOS=js GOARCH=wasm (assent app build)")
	os.Exit(2)
}
