//go:build js && wasm && assentselftest

// The in-page test instruments (webapp.SelfTestTag): only the browser
// tests build them in, so the app users get carries none of them.

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"syscall/js"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/device/storagetest"
	"github.com/assent-dev/assent/webapp/internal/approvalbench"
)

var _ device.Storage = (*IDB)(nil)

func init() {
	testBindings["selfTest"] = func(a *app, _ []js.Value) (any, error) { return a.selfTest() }
	testBindings["bench"] = func(a *app, args []js.Value) (any, error) {
		n := 0
		if len(args) > 0 && args[0].Type() == js.TypeNumber {
			n = args[0].Int()
		}
		return a.bench(n)
	}
	testBindings["transportCheck"] = func(_ *app, args []js.Value) (any, error) { return transportCheck(str(args, 0)) }
}

type selfTestView struct {
	OK     bool     `json:"ok"`
	Errors []string `json:"errors"`
	Millis int64    `json:"ms"`
}

// selfTest runs the device.Storage conformance check (device/storagetest)
// on IndexedDB, in scratch databases that it deletes afterwards; the
// device's own database is not touched.
func (a *app) selfTest() (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var tag [8]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return nil, err
	}
	prefix := "assent-selftest-" + hex.EncodeToString(tag[:]) + "-"
	var names []string
	start := time.Now()
	err := storagetest.Check(ctx, func(ctx context.Context, name string) (device.Storage, error) {
		names = append(names, prefix+name)
		return OpenIDB(ctx, prefix+name)
	})
	v := selfTestView{OK: err == nil, Errors: []string{}, Millis: time.Since(start).Milliseconds()}
	if err != nil {
		var j interface{ Unwrap() []error }
		if errors.As(err, &j) {
			for _, e := range j.Unwrap() {
				v.Errors = append(v.Errors, e.Error())
			}
		} else {
			v.Errors = append(v.Errors, strings.TrimSpace(err.Error()))
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			_ = DeleteIDB(ctx, n) // scratch data; a leftover is harmless
		}
	}
	return v, nil
}

type benchView struct {
	N           int     `json:"n"`
	MicrosPerOp float64 `json:"us_per_approval"`
}

// bench runs the device's CPU work of n approvals in this page
// (approvalbench) and returns the time per approval.
func (a *app) bench(n int) (any, error) {
	if n < 1 || n > 10000 {
		return nil, errors.New("bench: n must be 1 to 10000")
	}
	d, err := approvalbench.Run(n)
	if err != nil {
		return nil, err
	}
	return benchView{N: n, MicrosPerOp: float64(d.Nanoseconds()) / 1e3}, nil
}
