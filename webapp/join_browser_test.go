package webapp_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/skip2/go-qrcode"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
)

// fileAgent is a file-based `assent device` of the test's user, enrolled
// first: the existing device that answers the page's transfers.
type fileAgent struct {
	c      *device.Client
	id     *device.Identity
	ledger *device.Ledger
}

func enrollFileAgent(t *testing.T, ctx context.Context, w *world) *fileAgent {
	t.Helper()
	anon, err := device.NewClient(w.node.URL, nil, device.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fs := device.NewFileStorage(device.DefaultFilePaths(filepath.Join(t.TempDir(), "device.key")))
	t.Cleanup(func() { _ = fs.Close() })
	id, err := anon.Enroll(ctx, w.code, device.EnrollOptions{Name: "laptop agent", Save: func(id *device.Identity) error {
		return device.CreateKeystoreIn(ctx, fs, []byte("agent passphrase"), id, rand.Reader, device.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1})
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(id.Destroy)
	c, err := device.NewClient(w.node.URL, id, device.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := device.OpenLedgerIn(ctx, fs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return &fileAgent{c: c, id: id, ledger: l}
}

// answer answers the add_device request of the device the pairing string
// names, as `assent device add` does.
func (a *fileAgent) answer(t *testing.T, ctx context.Context, pairing, deviceID string, d device.Decision) string {
	t.Helper()
	reqs, err := a.c.PendingRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Kind != api.KindAddDevice || r.NewDevice == nil || r.NewDevice.DeviceID != deviceID {
			continue
		}
		var st *device.State
		if d == device.Approve {
			if st, err = a.ledger.ExportState(ctx); err != nil {
				t.Fatal(err)
			}
		}
		state, err := a.c.AnswerAddDevice(ctx, r, d, pairing, st)
		if err != nil {
			t.Fatalf("the file agent answering the add_device request of %s: %v", deviceID, err)
		}
		return state
	}
	t.Fatalf("no pending add_device request for the page's device %s", deviceID)
	return ""
}

// startJoin fills the enroll form with "Add this phone to an existing
// account" ticked and a fresh enrollment code, and waits for the pairing
// screen; it returns the pairing string as the page shows it and the
// page's device id.
func startJoin(t *testing.T, ctx context.Context, w *world, run stepFunc) (pairing, deviceID string) {
	t.Helper()
	en, err := w.tp.NewEnrollment(ctx, w.userID)
	if err != nil {
		t.Fatal(err)
	}
	run("start a join",
		chromedp.WaitVisible("#enroll-code", chromedp.ByQuery),
		chromedp.SendKeys("#enroll-code", en.EnrollmentCode, chromedp.ByQuery),
		chromedp.SendKeys("#enroll-name", "Ada's new phone", chromedp.ByQuery),
		chromedp.SendKeys("#enroll-pass", testPassphrase, chromedp.ByQuery),
		chromedp.SendKeys("#enroll-pass2", testPassphrase, chromedp.ByQuery),
		chromedp.Click("#enroll-join", chromedp.ByQuery),
		chromedp.Click("#enroll-submit", chromedp.ByQuery),
		waitBody("join", "waiting"), waitBody("screen", "join"),
		text("#join-pairing", &pairing),
		chromedp.Evaluate(`document.body.dataset.joinDevice`, &deviceID))
	if !strings.HasPrefix(pairing, "assent-pair:v1:"+deviceID+":") {
		t.Fatalf("pairing string %q for device %q", pairing, deviceID)
	}
	return pairing, deviceID
}

// TestApprovalAppJoinsByTransfer runs the approval app as the NEW device
// of a user who has one already (a file-based `assent device`): the page
// enrolls for a transfer, shows its pairing string as text and as a QR
// code (the QR drawn is checked module by module against the string), a
// cancelled wait and a denied transfer end plainly with nothing stored,
// and an approved transfer lands the page on the pending requests,
// unlocked, from which it seals a third party's record as itself.
func TestApprovalAppJoinsByTransfer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly and drives a browser")
	}
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	w := startWorld(t, ctx)
	agent := enrollFileAgent(t, ctx, w)
	_, run := startBrowser(t, ctx, exe)
	run("open the app", chromedp.EmulateViewport(360, 780), chromedp.Navigate(w.appURL), waitBody("state", "enroll"))

	// A wait cancelled by the user.
	_, _ = startJoin(t, ctx, w, run)
	var msg string
	run("cancel", chromedp.Click("#join-cancel", chromedp.ByQuery), waitBody("join", "failed"), text("#join-status", &msg))
	if !strings.Contains(msg, "cancelled") {
		t.Errorf("status after cancel: %q", msg)
	}
	run("start again", chromedp.Click("#join-restart", chromedp.ByQuery), waitBody("screen", "enroll"))

	// A transfer denied on the existing device.
	pairing, pageID := startJoin(t, ctx, w, run)
	if st := agent.answer(t, ctx, pairing, pageID, device.Deny); st != "denied" {
		t.Fatalf("denied add_device request: state %q", st)
	}
	run("the denial shows", waitBody("join", "failed"), text("#join-status", &msg))
	if !strings.Contains(msg, "Not added: the transfer was denied") {
		t.Errorf("status after a denied transfer: %q", msg)
	}
	var enrolled bool
	run("nothing stored", evalAwait(`assentDevice.state().then(s => s.enrolled)`, &enrolled))
	if enrolled {
		t.Fatal("a denied transfer left a keystore in IndexedDB")
	}
	run("start again", chromedp.Click("#join-restart", chromedp.ByQuery), waitBody("screen", "enroll"))

	// The transfer approved: the QR drawn is the pairing string's.
	pairing, pageID = startJoin(t, ctx, w, run)
	var drawn []string
	run("read the QR code", chromedp.Evaluate(`(() => {
		const svg = document.querySelector("#join-qr svg");
		const n = svg.viewBox.baseVal.width - 8;
		const rows = Array.from({length: n}, () => Array(n).fill("0"));
		for (const r of svg.querySelectorAll("rect.m")) {
			const x = +r.getAttribute("x") - 4, y = +r.getAttribute("y") - 4, w = +r.getAttribute("width");
			for (let i = 0; i < w; i++) rows[y][x + i] = "1";
		}
		return rows.map(r => r.join(""));
	})()`, &drawn))
	q, err := qrcode.New(pairing, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	q.DisableBorder = true
	want := q.Bitmap()
	if len(drawn) != len(want) {
		t.Fatalf("QR code drawn with %d rows, want %d", len(drawn), len(want))
	}
	for y, row := range want {
		for x, dark := range row {
			if (drawn[y][x] == '1') != dark {
				t.Fatalf("QR module (%d,%d) drawn %c, want dark=%v", x, y, drawn[y][x], dark)
			}
		}
	}
	var label string
	run("QR text alternative", chromedp.AttributeValue("#join-qr svg", "aria-label", &label, nil, chromedp.ByQuery))
	if !strings.Contains(label, pairing) {
		t.Errorf("QR aria-label %q lacks the pairing string", label)
	}
	if st := agent.answer(t, ctx, pairing, pageID, device.Approve); st != "approved" {
		t.Fatalf("approved add_device request: state %q", st)
	}
	run("joined", waitBody("join", "joined"), waitBody("state", "ready"), waitBody("screen", "requests"))
	var st struct {
		DeviceID    string `json:"device_id"`
		UserID      string `json:"user_id"`
		DeviceState string `json:"device_state"`
	}
	run("state", evalAwait(`assentDevice.state()`, &st))
	if st.DeviceID != pageID || st.UserID != w.userID || st.DeviceState != device.StateActive {
		t.Fatalf("page state after the join: %+v (want device %s of %s)", st, pageID, w.userID)
	}

	// The page seals a third party's record as the device it became.
	rid, reqID, code := w.upload(t, ctx, "Sealed by the joined phone", []byte("from the page"))
	run("approve", chromedp.WaitVisible(`li[data-request-id="`+reqID+`"] a`, chromedp.ByQuery),
		goTo("#/request/"+reqID), waitBody("request", "shown"),
		chromedp.SendKeys("#match-code", code, chromedp.ByQuery), chromedp.Click("#approve", chromedp.ByQuery), waitBody("request", "approved"))
	if rec, err := w.tp.AwaitRecord(ctx, rid); err != nil || rec.State != api.RecordSealed {
		t.Fatalf("record approved by the joined page: %+v, %v", rec, err)
	}
	entries, err := w.tp.Audit(ctx, w.userID)
	if err != nil {
		t.Fatal(err)
	}
	by := ""
	for _, e := range entries {
		var d api.AnswerDetails
		if e.Event == api.AuditApproved && e.Subject == reqID && json.Unmarshal(e.Details, &d) == nil {
			by = d.DeviceID
		}
	}
	if by != pageID {
		t.Fatalf("the approval of %s was given by device %q, want the page's %s (the agent is %s)", reqID, by, pageID, agent.id.DeviceID)
	}
	// The imported ledger lists the agent as a device this one verified:
	// the audit screen finds no unexpected answer.
	var findings string
	run("audit", goTo("#/audit"), chromedp.WaitVisible("#finding-list li", chromedp.ByQuery), text("#finding-list", &findings))
	if strings.Contains(findings, "unexpected") || strings.Contains(findings, "contradicts") {
		t.Errorf("audit findings after the join:\n%s", findings)
	}
	t.Logf("the page joined by transfer as %s and sealed %s; audit: %s", pageID, rid, findings)
}
