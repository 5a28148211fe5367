package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/client"
	"github.com/assent-dev/assent/internal/verify"
	"github.com/assent-dev/assent/threshold"
)

func init() {
	register("verify", "check offline who approved a sealed record: --server URL --user-key KEY RECORD_ID", runVerify)
}

// envAPIKey gives `assent verify` its API key: flags show in the process
// list.
const envAPIKey = "ASSENT_API_KEY"

// errVerifyFailed is the error of a record whose evidence does not hold;
// the message names what failed.
var errVerifyFailed = errors.New("verification failed")

// errUserKeyUnchecked: every check passed but the user's key came from the
// server, whose word proves nothing, so the answer is not a yes (exit
// status non-zero: a script that reads only the status is not fooled).
var errUserKeyUnchecked = errors.New("verification incomplete: the user's key was not checked (pass --user-key)")

// runVerify fetches a record and its user's device list and checks them
// offline (package internal/verify), printing what it checked and what it
// does not prove. The user's key comes from the person (--user-key, as
// `assent device status` prints it on the phone), never from the server.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	serverURL := fs.String("server", "", "API server `URL`")
	userKey := fs.String("user-key", "", "the user's `key` (device_key_id) as their phone shows it (assent device status)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *serverURL == "" || fs.NArg() != 1 {
		return fmt.Errorf("%w: verify --server URL [--user-key KEY] RECORD_ID (API key in $%s)", errUsage, envAPIKey)
	}
	key := os.Getenv(envAPIKey)
	if key == "" {
		return fmt.Errorf("%w: set $%s to an API key with records:access", errUsage, envAPIKey)
	}
	c, err := client.New(*serverURL, key, nil)
	if err != nil {
		return err
	}
	rec, err := c.Record(ctx, fs.Arg(0), 0)
	if err != nil {
		return err
	}
	raw, err := c.Devices(ctx, rec.UserID)
	if err != nil {
		return err
	}
	devices, err := verify.ParseDeviceList(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", errVerifyFailed, err)
	}
	fmt.Fprintf(stdout, "Record %s of user %s (%s).\n", rec.RecordID, rec.UserID, rec.State)
	r, err := verify.Check(rec, devices, *userKey)
	if err != nil {
		fmt.Fprintf(stdout, "FAILED: %v\n", err)
		return fmt.Errorf("%w: %w", errVerifyFailed, err)
	}
	st := r.Statement
	fmt.Fprintf(stdout, "ok  the statement is the one rebuilt from the record: create, approve, its content digest,\n")
	fmt.Fprintf(stdout, "    request %s, requester %s, purpose %q, expiring %s\n", st.RequestID, st.RequesterID, st.Purpose, st.ExpiresAt.Format("2006-01-02T15:04:05Z"))
	fmt.Fprintf(stdout, "ok  it is signed by device %s (%q, listed as %s, platform %s)\n", r.Device.DeviceID, r.Device.Name, r.Device.State, platformOf(r.Device.Platform))
	fmt.Fprintf(stdout, "ok  that device's enrollment proof (bound to its signing key) verifies against the user's key\n")
	fmt.Fprintf(stdout, "ok  the approval's evaluation proof verifies against the user's key for this record\n")
	if r.UserKeyChecked {
		fmt.Fprintf(stdout, "ok  the user's key is %s, the one given\n", threshold.FormatKeyID(r.UserKeyID))
	} else {
		fmt.Fprintf(stdout, "NOT CHECKED: the user's key is %s; compare it with what the user's phone shows\n", threshold.FormatKeyID(r.UserKeyID))
		fmt.Fprintf(stdout, "    (assent device status) and pass it as --user-key: the server's word for it proves nothing.\n")
	}
	fmt.Fprintln(stdout, "Not proven: when the statement was signed; that the device was not revoked then; that the server")
	fmt.Fprintln(stdout, "shows everyone the same device list (no outside witness of the audit chain yet).")
	if !r.UserKeyChecked {
		return errUserKeyUnchecked
	}
	return nil
}

// platformOf is the platform a device list gives, for printing: as given
// if it is one of the API's, api.PlatformUnknown for a device that enrolled
// without one, quoted and cut otherwise (the list is the server's word).
func platformOf(p string) string {
	switch {
	case p == "":
		return api.PlatformUnknown
	case api.ValidPlatform(p):
		return p
	default:
		return fmt.Sprintf("%.40q", p)
	}
}
