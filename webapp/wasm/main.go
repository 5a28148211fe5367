//go:build js && wasm

// Command wasm is the approval app's device: package device compiled to
// WebAssembly and exposed to the page as globalThis.assentDevice (DESIGN.md,
// "The approval app"). Every check, the POPRF info, the proofs, the
// signatures, the ledger and the audit verification run here, in Go, the
// same code as `assent device`; the page's JavaScript only draws what these
// calls return and passes the user's input in. Every call returns a
// Promise, and its work runs in a goroutine, so that no call blocks the
// page's event loop.
package main

import (
	"syscall/js"
)

// testBindings are the test instruments selftest.go adds to the device
// object in a build with webapp.SelfTestTag; none in the app users get.
var testBindings = map[string]func(a *app, args []js.Value) (any, error){}

func main() {
	a := newApp()
	obj := js.Global().Get("Object").New()
	bind := func(name string, fn func(args []js.Value) (any, error)) {
		obj.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any {
			// Copy the arguments: they are only valid during the call.
			cp := append([]js.Value(nil), args...)
			return promise(func() (any, error) { return fn(cp) })
		}))
	}
	bind("state", func([]js.Value) (any, error) { return a.state(), nil })
	bind("enroll", func(args []js.Value) (any, error) {
		return a.enroll(str(args, 0), str(args, 1), str(args, 2), str(args, 3))
	})
	bind("joinStart", func(args []js.Value) (any, error) {
		return a.joinStart(str(args, 0), str(args, 1), str(args, 2), str(args, 3))
	})
	bind("joinWait", func([]js.Value) (any, error) { return a.joinWait() })
	bind("joinCancel", func([]js.Value) (any, error) { return a.joinCancel() })
	bind("unlock", func(args []js.Value) (any, error) { return a.unlock(str(args, 0)) })
	bind("lock", func([]js.Value) (any, error) { a.lock(); return a.state(), nil })
	bind("pending", func([]js.Value) (any, error) { return a.pending() })
	bind("show", func(args []js.Value) (any, error) { return a.show(str(args, 0)) })
	bind("decide", func(args []js.Value) (any, error) {
		return a.decide(str(args, 0), str(args, 1), str(args, 2), str(args, 3))
	})
	bind("passkeySetup", func(args []js.Value) (any, error) {
		return a.passkeySetup(str(args, 0), str(args, 1), boolArg(args, 2), boolArg(args, 3))
	})
	bind("showAddDevice", func(args []js.Value) (any, error) { return a.showAddDevice(str(args, 0)) })
	bind("answerAddDevice", func(args []js.Value) (any, error) {
		return a.answerAddDevice(str(args, 0), str(args, 1), str(args, 2), str(args, 3))
	})
	bind("unlockPasskey", func(args []js.Value) (any, error) { return a.unlockPasskey(str(args, 0)) })
	bind("ledger", func([]js.Value) (any, error) { return a.ledgerView() })
	bind("audit", func([]js.Value) (any, error) { return a.auditView() })
	bind("pushConfig", func([]js.Value) (any, error) { return a.pushConfig() })
	bind("pushSubscribe", func(args []js.Value) (any, error) { return a.pushSubscribe(str(args, 0)) })
	bind("revoke", func(args []js.Value) (any, error) { return a.revoke(str(args, 0), str(args, 1)) })
	for name, fn := range testBindings {
		bind(name, func(args []js.Value) (any, error) { return fn(a, args) })
	}
	js.Global().Set("assentDevice", obj)
	if cb := js.Global().Get("assentDeviceReady"); cb.Type() == js.TypeFunction {
		cb.Invoke()
	}
	select {}
}
