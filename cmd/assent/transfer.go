package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/qrcode"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/threshold"
	"golang.org/x/term"
)

// Adding a device by transfer from the command line (DESIGN.md, "Adding a
// device (transfer)"): `device enroll --transfer` on the new device,
// `device add PAIRING-STRING` (or `device run`, which asks) on an existing
// one.

// transferPoll is how often `device enroll --transfer` asks for the bundle.
var transferPoll = 2 * time.Second

// stdoutIsTerminal reports whether stdout is a terminal (a QR code is
// printed only there); a variable so that tests can say.
var stdoutIsTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// enrollTransfer enrolls this device for a transfer: it prints the pairing
// string (and a QR code on a terminal), waits for an existing device's
// bundle, stores kD in a new keystore and the sender's ledger as this
// device's ledger, then confirms.
func enrollTransfer(ctx context.Context, sf *storeFlags, serverURL, code, name string, stdout, stderr io.Writer) error {
	st, err := sf.storage()
	if err != nil {
		return err
	}
	defer st.Close()
	paths := st.Paths()
	ledgerPath := paths.Ledger
	en, err := startEnroll(sf, serverURL, name, stderr, paths.Ledger, paths.Head)
	if err != nil {
		return err
	}
	defer secret.Clear(en.pass)
	path, client, pass, name := en.keystore, en.client, en.pass, en.name
	p, err := client.EnrollTransfer(ctx, code, name)
	if err != nil {
		return enrollError(err)
	}
	defer p.Destroy()
	pairing := p.PairingString()
	fmt.Fprintf(stdout, "Device %s of user %s is waiting for one of your devices to add it.\n", p.DeviceID, p.UserID)
	fmt.Fprintf(stdout, "On a device you already use, run `assent device add` with this pairing string\n")
	fmt.Fprintf(stdout, "(or answer the add_device request in `assent device run`):\n\n  %s\n\n", pairing)
	if stdoutIsTerminal(stdout) {
		if q, err := qrcode.New(pairing, qrcode.Medium); err == nil {
			fmt.Fprintln(stdout, q.ToSmallString(false))
		}
	}
	fmt.Fprintf(stdout, "Carry it yourself: never send it through the service that gave you the code.\n")
	fmt.Fprintf(stdout, "Waiting for the transfer (Ctrl-C to stop)...\n")
	id, err := client.CompleteTransfer(ctx, p, device.TransferOptions{PollInterval: transferPoll, Save: func(id *device.Identity, b *device.Bundle) error {
		id.ServerURL = client.ServerURL()
		if err := device.CreateKeystoreIn(ctx, st, pass, id, rand.Reader, keystoreKDF); err != nil {
			return err
		}
		// The sender's ledger and the audit head it verified, and the
		// sender as a device this one verified.
		if err := device.ImportTransfer(ctx, st, b, id.UserID, time.Now()); err != nil {
			os.Remove(path)
			return err
		}
		if b.AuditHead != nil {
			fmt.Fprintf(stdout, "Pinned the audit head the sending device verified (entry %d).\n", b.AuditHead.Seq)
		}
		return nil
	}})
	if err != nil {
		var ae *device.APIError
		if errors.As(err, &ae) && ae.Code == api.ErrTransferDenied.Code {
			return errors.New("the transfer was denied (or not answered in time): this device was not added; enroll again with a new code")
		}
		return err
	}
	defer id.Destroy()
	fmt.Fprintf(stdout, "Added device %s for user %s (device key id %s), by transfer.\n", id.DeviceID, id.UserID, threshold.FormatKeyID(id.DeviceKeyID))
	fmt.Fprintf(stdout, "Keystore: %s\nLedger:   %s (the sending device's, imported)\n", path, ledgerPath)
	fmt.Fprintf(stdout, "Next: answer requests with `assent device run`.\n")
	return nil
}

// deviceAdd answers the pending add_device request for the device a
// pairing string names: shown, confirmed y/N, and answered after the
// passphrase re-opened the keystore (the fresh user verification).
func deviceAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("device add", stderr)
	var sf storeFlags
	sf.register(fs, true, true)
	deny := fs.Bool("deny", false, "deny the request instead of approving it")
	pairing, err := parseOneArg(fs, args, "device add takes one pairing string (assent-pair:v1:...)")
	if err != nil {
		return err
	}
	newID, _, err := threshold.ParsePairingString(pairing)
	if err != nil {
		return fmt.Errorf("%w: %v", device.ErrPairing, err)
	}
	id, err := sf.openIdentity(stderr) // the passphrase: fresh user verification
	if err != nil {
		return err
	}
	defer id.Destroy()
	client, err := device.NewClient(id.ServerURL, id, device.ClientOptions{InsecureHTTP: sf.insecureHTTP})
	if err != nil {
		return err
	}
	reqs, err := client.PendingRequests(ctx)
	if err != nil {
		return err
	}
	var req *device.Request
	for _, r := range reqs {
		if r.Kind == api.KindAddDevice && r.NewDevice != nil && r.NewDevice.DeviceID == newID {
			req = r
		}
	}
	if req == nil {
		return fmt.Errorf("%w: no pending add_device request for device %s (check the pairing string on the new device)", device.ErrPairing, newID)
	}
	add, err := device.CheckAddDevice(id, req, time.Now(), device.MaxApprovalLifetime)
	if err != nil {
		return err
	}
	writeAddDevice(stdout, add)
	decision := device.Deny
	if !*deny {
		fmt.Fprint(stdout, "Add this device? It will hold your device key and answer for you. [y/N] ")
		line, err := newLineReader(deviceStdin).next(ctx)
		if err != nil {
			return fmt.Errorf("no answer: %w", err)
		}
		if a := strings.ToLower(strings.TrimSpace(line)); a == "y" || a == "yes" {
			decision = device.Approve
		}
	}
	st, err := sf.storage()
	if err != nil {
		return err
	}
	defer st.Close()
	ledger, err := device.OpenLedgerIn(ctx, st)
	if errors.Is(err, device.ErrLedgerLocked) {
		// `assent device run` holds the ledger: read it (and the head)
		// without the lock; the new device cannot be recorded in it.
		return answerAddLocked(ctx, client, req, decision, pairing, st.Paths(), stdout)
	}
	if err != nil {
		return err
	}
	defer ledger.Close()
	return answerAdd(ctx, client, req, decision, pairing, ledger, stdout)
}

// answerAddLocked is answerAdd while another process (`assent device run`)
// holds the ledger: its lines and the pinned head are read without the
// lock, and the approved device is not recorded as verified (the running
// agent will report its answers as unexpected until it is).
func answerAddLocked(ctx context.Context, client *device.Client, req *device.Request, decision device.Decision,
	pairing string, paths device.FilePaths, stdout io.Writer) error {
	data, err := device.ExportLedgerFile(paths.Ledger)
	if err != nil {
		return err
	}
	head, _, err := device.ReadPinnedHead(ctx, device.NewFileStorage(device.FilePaths{Head: paths.Head}))
	if err != nil {
		return err
	}
	var lines [][]byte
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		lines, data = append(lines, line), rest
	}
	state, err := client.AnswerAddDevice(ctx, req, decision, pairing, &device.State{Lines: lines, Head: head})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Request %s: %s; the server says %s.\n", req.RequestID, decision, device.Quote(state))
	if decision == device.Approve {
		fmt.Fprintf(stdout, "`assent device run` holds the ledger, so the new device is not recorded in it as one you verified:\n")
		fmt.Fprintf(stdout, "its answers will show as unexpected in `assent device audit`.\n")
	}
	return nil
}

// answerAdd answers req with the ledger's state and prints the outcome;
// an approved device is recorded in the ledger as one this device
// verified.
func answerAdd(ctx context.Context, client *device.Client, req *device.Request, decision device.Decision,
	pairing string, ledger *device.Ledger, stdout io.Writer) error {
	var st *device.State
	if decision == device.Approve {
		var err error
		if st, err = ledger.ExportState(ctx); err != nil {
			return err
		}
	}
	state, err := client.AnswerAddDevice(ctx, req, decision, pairing, st)
	if err != nil {
		return err
	}
	if decision == device.Approve {
		if err := ledger.AppendDevice(req.NewDevice.DeviceID, req.NewDevice.SigningPublicKey, req.RequestID, time.Now()); err != nil {
			fmt.Fprintf(stdout, "The ledger did not record the new device (%v): its answers will show as unexpected.\n", err)
		}
		fmt.Fprintf(stdout, "Request %s: approved; the server says %s. The new device receives the device key, sealed to it.\n", req.RequestID, device.Quote(state))
	} else {
		fmt.Fprintf(stdout, "Request %s: denied; the server says %s. That device can never answer for you.\n", req.RequestID, device.Quote(state))
	}
	return nil
}

func writeAddDevice(w io.Writer, add *device.AddDevice) {
	fmt.Fprintf(w, "Request %s: add a device to your devices\n", add.RequestID)
	fmt.Fprintf(w, "  device:  %s, named %s\n", add.DeviceID, device.Quote(add.Name))
	fmt.Fprintf(w, "  expires: %s\n", add.ExpiresAt.UTC().Format(time.RFC3339))
}

// runAddDevice is `device run`'s handler of add_device requests without
// --auto-approve: it shows the request, asks for the pairing string shown
// on the new device (empty: leave it; "deny": deny) and the passphrase,
// which must re-open this device's keystore, then answers.
func runAddDevice(sf *storeFlags, self *device.Identity, client *device.Client, ledger *device.Ledger, out *sync.Mutex,
	lines *lineReader, stdout, stderr io.Writer) func(context.Context, *device.Request, *device.AddDevice) (*device.Result, error) {
	return func(ctx context.Context, req *device.Request, add *device.AddDevice) (*device.Result, error) {
		out.Lock()
		lines.drain()
		writeAddDevice(stdout, add)
		fmt.Fprint(stdout, "Pairing string shown on the new device (empty: leave the request; \"deny\": deny it): ")
		out.Unlock()
		line, err := lines.next(ctx)
		out.Lock()
		defer out.Unlock()
		if err != nil {
			fmt.Fprintf(stdout, "\nNo answer (%v); request %s left unanswered.\n", err, req.RequestID)
			return nil, err
		}
		line = strings.TrimSpace(line)
		decision := device.Approve
		switch strings.ToLower(line) {
		case "":
			fmt.Fprintf(stdout, "Request %s left unanswered (assent device add PAIRING-STRING answers it later).\n", req.RequestID)
			return nil, fmt.Errorf("%w: %s", device.ErrLeftForUser, req.RequestID)
		case "deny", "n", "no":
			decision, line = device.Deny, ""
		}
		if err := verifyUser(sf, self, stderr); err != nil {
			return nil, err
		}
		if err := answerAdd(ctx, client, req, decision, line, ledger, stdout); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s", device.ErrLeftForUser, req.RequestID) // told above
	}
}

// verifyUser is the fresh user verification: the passphrase, asked again,
// must re-open this device's keystore.
func verifyUser(sf *storeFlags, self *device.Identity, stderr io.Writer) error {
	fmt.Fprintln(stderr, "Adding a device needs your passphrase again.")
	id, err := sf.openIdentity(stderr)
	if err != nil {
		return fmt.Errorf("user verification failed: %w", err)
	}
	defer id.Destroy()
	if id.DeviceID != self.DeviceID {
		return errors.New("user verification failed: the keystore is another device's")
	}
	return nil
}
