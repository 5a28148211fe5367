package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/client"
	"github.com/assent-dev/assent/internal/node"
	"github.com/assent-dev/assent/webapp"
)

// demoApp is `assent demo --app`: the approval app, served on loopback, is
// the device.
type demoApp struct {
	listen, dir string
	url         string
	ln          net.Listener
	srv         *http.Server
}

// demoEnrollPoll is how often the demo looks whether the browser enrolled.
const demoEnrollPoll = 500 * time.Millisecond

func (a *demoApp) listenApp() error {
	ln, err := net.Listen("tcp", a.listen)
	if err != nil {
		return fmt.Errorf("listening for the approval app: %w", err)
	}
	a.ln, a.url = ln, "http://"+ln.Addr().String()
	return nil
}

func (a *demoApp) close() {
	if a.srv != nil {
		_ = a.srv.Close()
	} else if a.ln != nil {
		_ = a.ln.Close()
	}
}

// serve builds (unless a directory was given) and serves the bundle for
// the API at apiURL.
func (a *demoApp) serve(ctx context.Context, apiURL, tmp string) (*webapp.Bundle, error) {
	dir := a.dir
	if dir == "" {
		dir = tmp
		if _, err := webapp.Build(ctx, webapp.BuildOptions{Out: dir, API: apiURL}); err != nil {
			return nil, err
		}
	}
	sums, err := webapp.ReadSums(dir)
	if err != nil {
		return nil, err
	}
	if err := webapp.Verify(dir, sums); err != nil {
		return nil, err
	}
	origin, err := webapp.APIOrigin(apiURL)
	if err != nil {
		return nil, err
	}
	a.srv = &http.Server{Handler: webapp.Handler(dir, webapp.CSP(origin), sums), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(a.ln) }()
	return &webapp.Bundle{Dir: dir, Sums: sums}, nil
}

// runApp is the demo with the approval app as the device: the third party
// creates the user, the person at the browser enrolls with the code
// printed, and then approves the seal and the access on the page.
func (d *demo) runApp(ctx context.Context, n *node.Node) error {
	t0 := time.Now()
	if _, err := d.app.serve(ctx, n.URL, bundleDir(d.dir)); err != nil {
		return fmt.Errorf("the approval app: %w", err)
	}
	d.step("approval app built and served on %s in %s (the API allows that origin only)", d.app.url, millis(time.Since(t0)))
	clinic, user, err := d.thirdParty(ctx, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\n  Open the approval app:  %s\n  Enrollment code:        %s\n  (server URL prefilled; choose any passphrase of 8 characters or more)\n\n", d.app.url, user.EnrollmentCode)

	signer, err := d.awaitBrowserDevice(ctx, clinic, user.UserID)
	if err != nil {
		return err
	}
	d.step("the browser enrolled its device; now approve the seal on the page (Requests)")
	sum, rid, err := d.seal(ctx, clinic, user.UserID, signer)
	if err != nil {
		return err
	}
	fmt.Fprintln(d.out, "  Now approve the access request on the page.")
	if err := d.open(ctx, clinic, rid, sum); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "done in %s: the content downloaded is the content uploaded, each step approved in the browser (its Ledger and Audit screens show them)\n", seconds(time.Since(d.start)))
	return nil
}

func bundleDir(dir string) string { return filepath.Join(dir, "app") }

// awaitBrowserDevice waits until the user has an active device and returns
// its signing key, from the third party's device listing.
func (d *demo) awaitBrowserDevice(ctx context.Context, clinic *client.Client, uid string) (ed25519.PublicKey, error) {
	for {
		raw, err := clinic.Devices(ctx, uid)
		if err != nil {
			return nil, fmt.Errorf("listing the user's devices: %w", err)
		}
		var list struct {
			Devices []struct {
				DeviceID   string `json:"device_id"`
				State      string `json:"state"`
				SigningKey []byte `json:"signing_public_key"`
			} `json:"devices"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("the device listing: %w", err)
		}
		for _, dv := range list.Devices {
			if dv.State == api.DeviceActive && len(dv.SigningKey) == ed25519.PublicKeySize {
				return ed25519.PublicKey(dv.SigningKey), nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, errors.New("no device enrolled from the browser in time")
		case <-time.After(demoEnrollPoll):
		}
	}
}
