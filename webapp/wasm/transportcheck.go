//go:build js && wasm && assentselftest

package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/ids"
)

// transportCase is the outcome of one bad path of the fetch transport.
type transportCase struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"` // what the device said
}

// transportCheck drives the device's fetch transport through its bad paths
// against the test server at base (webapp's browser test), whose prefixes
// answer: /redirect a 307 to another server, /stall nothing until the
// request is aborted, /stream an event stream that stays silent, /big a
// 201 over the device's answer limit. The test server sees, on its side,
// that nothing followed the redirect and that both aborts reached it.
func transportCheck(base string) (any, error) {
	ctx := context.Background()
	out := map[string]transportCase{}
	client := func(prefix string, o device.ClientOptions) (*device.Client, error) {
		o.Platform = api.PlatformWeb
		return device.NewClient(base+prefix, nil, o)
	}
	enroll := func(c *device.Client) error {
		_, err := c.Enroll(ctx, "ABCDE-FGHIJ-KLMNO-PQRST", device.EnrollOptions{Name: "transport check"})
		return err
	}
	report := func(name string, err error, ok bool) {
		v := transportCase{OK: ok}
		if err != nil {
			v.Error = err.Error()
		}
		out[name] = v
	}

	c, err := client("/redirect", device.ClientOptions{})
	if err != nil {
		return nil, err
	}
	err = enroll(c)
	report("redirect", err, errors.Is(err, device.ErrProtocol) && strings.Contains(err.Error(), "redirect"))

	if c, err = client("/stall", device.ClientOptions{RequestTimeout: 500 * time.Millisecond}); err != nil {
		return nil, err
	}
	start := time.Now()
	err = enroll(c)
	report("timeout", err, errors.Is(err, context.DeadlineExceeded) && time.Since(start) < 10*time.Second)

	if c, err = client("/big", device.ClientOptions{}); err != nil {
		return nil, err
	}
	err = enroll(c)
	report("over_limit", err, errors.Is(err, device.ErrProtocol) && strings.Contains(err.Error(), "answer over"))

	// A signed call needs an identity; the test server checks nothing.
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	did, err := ids.New(ids.Device, rand.Reader)
	if err != nil {
		return nil, err
	}
	id := &device.Identity{DeviceID: did, SigningKey: sk}
	sc, err := device.NewClient(base+"/stream", id, device.ClientOptions{Platform: api.PlatformWeb})
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	connected := false
	err = sc.Events(sctx, time.Minute, func() {
		connected = true
		time.AfterFunc(200*time.Millisecond, cancel)
	}, func(string) {})
	report("cancel_stream", err, connected && errors.Is(err, context.Canceled))
	return out, nil
}
