//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"syscall/js"
)

// promise runs fn in its own goroutine and returns a JavaScript Promise of
// its result, so that no call from the page ever blocks the event loop:
// the value is passed to JSON.parse-able JSON, an error rejects with an
// Error carrying its message (never a secret: the device's errors hold
// none).
func promise(fn func() (any, error)) js.Value {
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := safeCall(fn)
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			b, err := json.Marshal(v)
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New("encoding the answer: " + err.Error()))
				return
			}
			resolve.Invoke(js.Global().Get("JSON").Call("parse", string(b)))
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(executor)
	executor.Release() // the executor ran synchronously inside New
	return p
}

// safeCall turns a panic into an error, so that a bug answers the page
// instead of killing the device.
func safeCall(fn func() (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("internal error: %v", r)
		}
	}()
	return fn()
}

// str returns args[i] if it is a string, else "".
func str(args []js.Value, i int) string {
	if i < len(args) && args[i].Type() == js.TypeString {
		return args[i].String()
	}
	return ""
}

// boolArg returns args[i] if it is a boolean, else false.
func boolArg(args []js.Value, i int) bool {
	return i < len(args) && args[i].Type() == js.TypeBoolean && args[i].Bool()
}
