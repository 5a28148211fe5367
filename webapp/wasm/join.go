//go:build js && wasm

package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/qrcode"
)

// Joining a user by transfer (DESIGN.md, "Adding a device (transfer)"),
// the app as the new device, the twin of `assent device enroll
// --transfer`: joinStart enrolls with transfer:true
// (device.Client.EnrollTransfer) and returns the pairing string with its QR
// code's modules; joinWait waits for an existing device's bundle
// (device.Client.CompleteTransfer, which polls GET /v1/device/transfer),
// which it checks and opens, stores (the keystore under the passphrase
// chosen at the start, then the sender's ledger and audit head) and
// confirms; the device is then unlocked. joinCancel stops the wait.

// joinPoll is how often joinWait asks for the bundle.
const joinPoll = 2 * time.Second

// joinTimeout bounds the wait for the bundle: the add_device request
// expires well before it.
const joinTimeout = 30 * time.Minute

var (
	errJoinBusy = errors.New("a transfer is under way already: wait for it, or cancel it")
	errNoJoin   = errors.New("no transfer is under way: start again with an enrollment code")
	// errJoinDenied is the plain message of transfer_denied.
	errJoinDenied = errors.New("the transfer was denied on your other device, or not answered in time: this phone was not added. Ask for a new enrollment code to try again")
	errJoinGone   = errors.New("the transfer bundle expired or was fetched already: this phone was not added. Ask for a new enrollment code to try again")
	errJoinCancel = errors.New("the transfer was cancelled: this phone was not added")
)

// join is a transfer under way.
type join struct {
	client  *device.Client
	pending *device.PendingTransfer
	pass    []byte
	cancel  context.CancelFunc
	ctx     context.Context
	waiting bool
}

// joinView is what the page draws while it waits: the pairing string as
// text, and as the modules of its QR code (one string of '1' and '0' a
// row, without the quiet zone, which the page adds).
type joinView struct {
	DeviceID string   `json:"device_id"`
	UserID   string   `json:"user_id"`
	Pairing  string   `json:"pairing"`
	QR       []string `json:"qr"`
}

// qrModules encodes s as a QR code (error correction M) and returns its
// modules, '1' for dark.
func qrModules(s string) ([]string, error) {
	q, err := qrcode.New(s, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("making the QR code: %w", err)
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	rows := make([]string, len(bm))
	for i, r := range bm {
		var b strings.Builder
		for _, dark := range r {
			if dark {
				b.WriteByte('1')
			} else {
				b.WriteByte('0')
			}
		}
		rows[i] = b.String()
	}
	return rows, nil
}

// joinStart enrolls this browser as a new device of the user the code
// names, to receive kD by transfer. The passphrase (at least 8
// characters) will lock the keystore once the bundle came.
func (a *app) joinStart(serverURL, code, passphrase, name string) (any, error) {
	if len(passphrase) < 8 {
		return nil, errPassphrase
	}
	if name == "" {
		name = "approval app (web)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	st, err := a.storage(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := st.ReadKeystore(ctx); err == nil {
		return nil, errEnrolled
	} else if !errors.Is(err, device.ErrNoKeystore) {
		return nil, err
	}
	a.mu.Lock()
	busy := a.join != nil
	a.mu.Unlock()
	if busy {
		return nil, errJoinBusy
	}
	c, err := device.NewClient(serverURL, nil, clientOptions())
	if err != nil {
		return nil, err
	}
	p, err := c.EnrollTransfer(ctx, strings.TrimSpace(code), name)
	if err != nil {
		return nil, err
	}
	view := joinView{DeviceID: p.DeviceID, UserID: p.UserID, Pairing: p.PairingString()}
	if view.QR, err = qrModules(view.Pairing); err != nil {
		p.Destroy()
		return nil, err
	}
	jctx, jcancel := context.WithTimeout(context.Background(), joinTimeout)
	j := &join{client: c, pending: p, pass: []byte(passphrase), ctx: jctx, cancel: jcancel}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.join != nil {
		jcancel()
		p.Destroy()
		clear(j.pass)
		return nil, errJoinBusy
	}
	a.join = j
	return view, nil
}

// joinWait waits for the bundle of the transfer joinStart began, then
// stores it and confirms the enrollment; it returns the unlocked state.
// Errors say plainly what happened: denied or expired (errJoinDenied),
// the bundle gone (errJoinGone), cancelled (errJoinCancel), or a bundle
// this device refused (device.ErrTransfer, nothing stored).
func (a *app) joinWait() (any, error) {
	a.mu.Lock()
	j := a.join
	if j == nil || j.waiting {
		a.mu.Unlock()
		if j != nil {
			return nil, errJoinBusy
		}
		return nil, errNoJoin
	}
	j.waiting = true
	a.mu.Unlock()
	defer a.endJoin(j)
	st, err := a.storage(j.ctx)
	if err != nil {
		return nil, err
	}
	saved := false
	id, err := j.client.CompleteTransfer(j.ctx, j.pending, device.TransferOptions{PollInterval: joinPoll,
		Save: func(id *device.Identity, b *device.Bundle) error {
			saved = true
			if err := device.CreateKeystoreIn(j.ctx, st, j.pass, id, rand.Reader, device.DefaultKDFParams); err != nil {
				return err
			}
			// The sender's ledger and the audit head it verified, and the
			// sender as a device this one verified.
			return device.ImportTransfer(j.ctx, st, b, id.UserID, time.Now())
		}})
	if err != nil {
		if saved {
			// Not confirmed: kD must not stay in a browser the server
			// does not count as a device.
			a.wipe()
		}
		return nil, joinError(j.ctx, err)
	}
	if err := a.start(j.ctx, id); err != nil {
		id.Destroy()
		return nil, err
	}
	return a.state(), nil
}

// joinError turns the errors of a transfer into what the page says.
func joinError(ctx context.Context, err error) error {
	var ae *device.APIError
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return errJoinCancel
	case errors.As(err, &ae) && ae.Code == api.ErrTransferDenied.Code:
		return errJoinDenied
	case errors.As(err, &ae) && ae.Status == api.ErrGone.Status:
		return errJoinGone
	case errors.Is(err, device.ErrTransfer):
		return fmt.Errorf("this phone refused the bundle your other device sent, and stored nothing: %w", err)
	}
	return err
}

// joinCancel stops the transfer under way (the wait returns
// errJoinCancel); the server's pending device expires with its request.
func (a *app) joinCancel() (any, error) {
	a.mu.Lock()
	j := a.join
	waiting := j != nil && j.waiting
	a.mu.Unlock()
	if j == nil {
		return false, nil
	}
	j.cancel()
	if !waiting {
		a.endJoin(j) // else the wait ends it
	}
	return true, nil
}

// endJoin forgets j and clears its secrets.
func (a *app) endJoin(j *join) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.join != j {
		return
	}
	a.join = nil
	j.cancel()
	clear(j.pass)
	j.pending.Destroy()
}

// wipe deletes the device's IndexedDB database (a transfer stored but not
// confirmed); the next call opens an empty one.
func (a *app) wipe() {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	a.mu.Lock()
	st := a.st
	a.st = nil
	a.mu.Unlock()
	if st != nil {
		_ = st.Close()
	}
	_ = DeleteIDB(ctx, dbName) // best effort: an unconfirmed keystore opens no device
}
