package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/threshold"
)

// TestDeviceTransferCLI: a second device joins by transfer through the
// commands: `enroll --transfer` prints the pairing string and waits, `run
// --auto-approve` leaves the add_device request for a human, `add` refuses
// a wrong pairing string and approves with the right one after the
// passphrase, and the new device then answers with its own key;
// `reactivate` brings a suspended device back.
func TestDeviceTransferCLI(t *testing.T) {
	e := newCLIEnv(t)
	old := transferPoll
	transferPoll = 20 * time.Millisecond
	t.Cleanup(func() { transferPoll = old })
	ctx := context.Background()
	phone := []string{"--keystore", filepath.Join(e.dir, "phone", "device.key"), "--passphrase-file", e.pass}
	tablet := []string{"--keystore", filepath.Join(e.dir, "tablet", "device.key"), "--passphrase-file", e.pass}

	user := e.newUser()
	if out, _, err := e.device(ctx, "", append([]string{"enroll", "--server", e.url, "--code", user.EnrollmentCode, "--name", "phone"}, phone...)...); err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	sealed := e.record(user.UserID, "Before the tablet", []byte("early"))
	runOut, runErr, stopRun := e.running(strings.NewReader(""), append([]string{"run", "--auto-approve"}, phone...)...)
	waitFor(t, runErr, "never auto-approved")
	if st := e.recordState(sealed); st != "sealed" {
		t.Fatalf("record before the transfer: %s", st)
	}

	var enr cliIDs
	e.api(http.MethodPost, "/v1/users/"+user.UserID+"/enrollment", nil, http.StatusCreated, &enr)
	tabOut, _, stopTab := e.running(strings.NewReader(""), append([]string{"enroll", "--transfer", "--server", e.url, "--code", enr.EnrollmentCode, "--name", "tablet"}, tablet...)...)
	waitFor(t, tabOut, "Waiting for the transfer")
	pairing := regexp.MustCompile(`assent-pair:v1:\S+`).FindString(tabOut.String())
	newID, _, err := threshold.ParsePairingString(pairing)
	if err != nil {
		t.Fatalf("pairing string %q: %v", pairing, err)
	}
	if strings.Contains(tabOut.String(), "█") || strings.Contains(tabOut.String(), "▀") {
		t.Error("a QR code was printed to a stdout that is not a terminal")
	}

	// The auto-approving agent shows the request and leaves it.
	waitFor(t, runOut, "add device "+newID)
	waitFor(t, runOut, "never auto-approved")

	// A wrong pairing string (another device's id) is refused.
	wrong := threshold.PairingString("dev_"+strings.Repeat("a", 26), make([]byte, 32))
	if _, _, err := e.device(ctx, "y\n", append([]string{"add", wrong}, phone...)...); !errors.Is(err, device.ErrPairing) {
		t.Fatalf("add with a wrong pairing string: %v", err)
	}
	// The right one, confirmed y after the passphrase opened the keystore.
	// (while `device run` holds the phone's ledger: read without its lock).
	out, _, err := e.device(ctx, "y\n", append([]string{"add", pairing}, phone...)...)
	if err != nil || !strings.Contains(out, "approve") || !strings.Contains(out, "holds the ledger") {
		t.Fatalf("add: %v\n%s", err, out)
	}
	if err := stopRun(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tabOut, "Added device "+newID)
	if err := stopTab(); err != nil {
		t.Fatalf("enroll --transfer: %v\n%s", err, tabOut.String())
	}
	if !strings.Contains(tabOut.String(), "Added device "+newID) {
		t.Fatalf("enroll --transfer output:\n%s", tabOut.String())
	}

	// The tablet took over the phone's ledger and the head it verified: its
	// own check of the history extends that head and finds nothing
	// unexpected (the phone is a device it verified).
	if _, err := os.Stat(filepath.Join(e.dir, "tablet", "device.head")); err != nil {
		t.Fatalf("the tablet pinned no head: %v", err)
	}
	if out, errOut, err := e.device(ctx, "", append([]string{"audit"}, tablet...)...); err != nil {
		t.Fatalf("the tablet's audit: %v\n%s%s", err, out, errOut)
	}

	// The tablet answers with its own key.
	rid := e.record(user.UserID, "For the tablet", []byte("later"))
	_, _, stopTabRun := e.running(strings.NewReader(""), append([]string{"run", "--auto-approve"}, tablet...)...)
	if st := e.recordState(rid); st != "sealed" {
		t.Fatalf("record answered by the tablet: %s", st)
	}
	if err := stopTabRun(); err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Approval struct {
			DeviceID string `json:"device_id"`
		} `json:"approval"`
	}
	e.api(http.MethodGet, "/v1/records/"+rid, nil, http.StatusOK, &rec)
	if rec.Approval.DeviceID != newID {
		t.Fatalf("sealed by %s, want the tablet %s", rec.Approval.DeviceID, newID)
	}

	// A third device, added from `device run`, which asks for the pairing
	// string and then the passphrase (here its file) before answering.
	laptop := []string{"--keystore", filepath.Join(e.dir, "laptop", "device.key"), "--passphrase-file", e.pass}
	e.api(http.MethodPost, "/v1/users/"+user.UserID+"/enrollment", nil, http.StatusCreated, &enr)
	lapOut, _, stopLap := e.running(strings.NewReader(""), append([]string{"enroll", "--transfer", "--server", e.url, "--code", enr.EnrollmentCode}, laptop...)...)
	waitFor(t, lapOut, "Waiting for the transfer")
	lapPairing := regexp.MustCompile(`assent-pair:v1:\S+`).FindString(lapOut.String())
	stdin, typed := io.Pipe()
	defer typed.Close()
	askOut, askErr, stopAsk := e.running(stdin, append([]string{"run"}, phone...)...)
	waitFor(t, askOut, "Pairing string shown on the new device")
	if _, err := io.WriteString(typed, lapPairing+"\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, askErr, "needs your passphrase again")
	waitFor(t, askOut, "approved")
	waitFor(t, lapOut, "Added device ")
	if err := stopLap(); err != nil {
		t.Fatal(err)
	}
	if err := stopAsk(); err != nil {
		t.Fatal(err)
	}

	// Suspended by the service, reactivated by the phone's statement.
	e.api(http.MethodDelete, "/v1/users/"+user.UserID+"/devices/"+newID, nil, http.StatusOK, nil)
	out, _, err = e.device(ctx, "", append([]string{"reactivate", newID}, phone...)...)
	if err != nil || !strings.Contains(out, "Reactivated device "+newID) {
		t.Fatalf("reactivate: %v\n%s", err, out)
	}
	if _, _, err := e.device(ctx, "", append([]string{"reactivate", newID}, phone...)...); err == nil {
		t.Error("reactivating an active device succeeded")
	}
}
