//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
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

// sendOnce gives v to ch if it has room; a callback never blocks the
// JavaScript event loop.
func sendOnce[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// settle waits for the value the callbacks funcs send to ch (exactly one
// of them calls back, once), or for ctx's end. The callbacks are released
// once the value came: at once, or, if ctx ended first, in the background
// when JavaScript calls back at last; never while JavaScript may still
// call them (a released callback called would stop the program).
func settle[T any](ctx context.Context, ch chan T, funcs ...js.Func) (T, error) {
	select {
	case v := <-ch:
		release(funcs)
		return v, nil
	case <-ctx.Done():
		go func() {
			<-ch
			release(funcs)
		}()
		var zero T
		return zero, ctx.Err()
	}
}

func release(funcs []js.Func) {
	for _, f := range funcs {
		f.Release()
	}
}

// jsError makes an error of a thrown JavaScript value.
func jsError(v js.Value) error {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		if msg.Type() == js.TypeString {
			if name.Type() == js.TypeString {
				return errors.New(name.String() + ": " + msg.String())
			}
			return errors.New(msg.String())
		}
	}
	return errors.New(v.String())
}

// jsBytes copies a Uint8Array (or ArrayBuffer) into Go.
func jsBytes(v js.Value) ([]byte, error) {
	if v.InstanceOf(js.Global().Get("ArrayBuffer")) {
		v = js.Global().Get("Uint8Array").New(v)
	}
	if !v.InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, errors.New("not bytes")
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b, nil
}

// toJSBytes copies b into a new Uint8Array.
func toJSBytes(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
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
