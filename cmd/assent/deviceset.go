package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/threshold"
)

// deviceStatus prints the device's ids and the user's key fingerprint, the
// device_key_id grouped for reading, which the person gives to whoever runs
// `assent verify --user-key`: it must come from the phone, never from the
// server.
func deviceStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("device status", stderr)
	var sf storeFlags
	sf.register(fs, false, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	id, err := sf.openIdentity(stderr)
	if err != nil {
		return err
	}
	defer id.Destroy()
	fmt.Fprintf(stdout, "Device:   %s\n", id.DeviceID)
	fmt.Fprintf(stdout, "User:     %s\n", id.UserID)
	fmt.Fprintf(stdout, "Server:   %s\n", id.ServerURL)
	fmt.Fprintf(stdout, "Platform: %s\n", api.PlatformAgent) // how assent device enrolls (device.ClientOptions' default)
	fmt.Fprintf(stdout, "User key: %s\n", threshold.FormatKeyID(id.DeviceKeyID))
	st, err := sf.storage()
	if err != nil {
		return err
	}
	defer st.Close()
	switch head, ok, err := device.ReadPinnedHead(ctx, st); {
	case err != nil:
		fmt.Fprintf(stdout, "Audit:    pinned head unreadable (%v)\n", err)
	case !ok:
		fmt.Fprintf(stdout, "Audit:    no head pinned yet (assent device audit pins one)\n")
	default:
		fmt.Fprintf(stdout, "Audit:    verified up to entry %d (hash %x)\n", head.Seq, head.Hash)
	}
	fmt.Fprintln(stdout, "Give the user key to anyone who checks your approvals (assent verify --user-key).")
	return nil
}

// deviceRevoke revokes a device of the user. The passphrase that unlocks the
// keystore is the fresh user verification DESIGN.md asks for.
func deviceRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return deviceSetChange(ctx, "revoke", args, stdout, stderr, (*device.Client).Revoke,
		"Revoked device %s: its calls are refused from now on. Its copy of the device share is not rotated.\n")
}

// deviceReactivate reactivates a suspended device of the user, with a
// statement this device signs (our layout: DESIGN.md names none).
func deviceReactivate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return deviceSetChange(ctx, "reactivate", args, stdout, stderr, (*device.Client).Reactivate,
		"Reactivated device %s: it answers for you again.\n")
}

// deviceCancel cancels a pending recovery enrollment of the user.
func deviceCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return deviceSetChange(ctx, "cancel", args, stdout, stderr, (*device.Client).Cancel,
		"Cancelled the recovery enrollment of device %s: it will never become active.\n")
}

// deviceSetChange runs one change of the user's device set on the device
// named by the one argument.
func deviceSetChange(ctx context.Context, name string, args []string, stdout, stderr io.Writer,
	change func(*device.Client, context.Context, string) error, done string) error {
	fs := newFlagSet("device "+name, stderr)
	var sf storeFlags
	sf.register(fs, false, true)
	target, err := parseOneArg(fs, args, "device "+name+" takes one device id")
	if err != nil {
		return err
	}
	id, err := sf.openIdentity(stderr)
	if err != nil {
		return err
	}
	defer id.Destroy()
	client, err := device.NewClient(id.ServerURL, id, device.ClientOptions{InsecureHTTP: sf.insecureHTTP})
	if err != nil {
		return err
	}
	if err := change(client, ctx, target); err != nil {
		return err
	}
	fmt.Fprintf(stdout, done, target)
	return nil
}

// parseOneArg parses fs's flags around exactly one argument, which may come
// before the flags or after them; usage says what the command takes.
func parseOneArg(fs *flag.FlagSet, args []string, usage string) (string, error) {
	var arg string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		arg, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if arg == "" && fs.NArg() == 1 {
		arg = fs.Arg(0)
	} else if fs.NArg() != 0 || arg == "" {
		return "", fmt.Errorf("%w: %s", errUsage, usage)
	}
	return arg, nil
}
