//go:build js && wasm

// Package jsutil holds the few helpers Go code in the browser needs around
// syscall/js: waiting for a Promise or a callback without blocking the
// JavaScript event loop and without releasing a callback JavaScript may
// still call, errors of thrown values, and byte copies. The approval app's
// WebAssembly (webapp/wasm) and the device's fetch transport use them.
package jsutil

import (
	"context"
	"errors"
	"syscall/js"
)

// SendOnce gives v to ch if it has room; a callback never blocks the
// JavaScript event loop.
func SendOnce[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// Settle waits for the value the callbacks funcs send to ch (exactly one
// of them calls back, once), or for ctx's end. The callbacks are released
// once the value came: at once, or, if ctx ended first, in the background
// when JavaScript calls back at last; never while JavaScript may still
// call them (a released callback called would stop the program).
func Settle[T any](ctx context.Context, ch chan T, funcs ...js.Func) (T, error) {
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

// Await waits for the Promise p: its value, the Error of its rejection
// reason, or ctx's error once ctx is done (p's callbacks are then released
// when p settles at last; the caller makes it settle, by aborting what p
// waits for).
func Await(ctx context.Context, p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	ok := js.FuncOf(func(_ js.Value, args []js.Value) any {
		SendOnce(ch, result{v: arg0(args)})
		return nil
	})
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		SendOnce(ch, result{err: Error(arg0(args))})
		return nil
	})
	p.Call("then", ok, fail)
	r, err := Settle(ctx, ch, ok, fail)
	if err != nil {
		return js.Undefined(), err
	}
	return r.v, r.err
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// Error makes an error of a thrown JavaScript value: "name: message" for an
// Error, its string form otherwise.
func Error(v js.Value) error {
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

// Bytes copies a Uint8Array (or ArrayBuffer) into Go.
func Bytes(v js.Value) ([]byte, error) {
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

// Uint8Array copies b into a new Uint8Array.
func Uint8Array(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}
