package device_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// transferEnv is a user with one active device A (agent, ledger) and a
// second device B enrolled for a transfer, awaiting it.
type transferEnv struct {
	*serverEnv
	a        *device.Identity
	aClient  *device.Client
	aLedger  *device.Ledger
	aAgent   *device.Agent
	aPrompts *prompts
	b        *device.PendingTransfer
	bClient  *device.Client
	sealed   string // a record A sealed before B joined
}

func newTransferEnv(t *testing.T) *transferEnv {
	e := &transferEnv{serverEnv: newServerEnv(t, nil), aPrompts: &prompts{decide: approveAll}}
	e.a = e.enroll()
	// A's ledger and pinned head in one file storage, as `assent device` keeps them.
	dir := t.TempDir()
	fs := device.NewFileStorage(device.FilePaths{Ledger: filepath.Join(dir, "a.ledger"), Head: filepath.Join(dir, "a.head")})
	t.Cleanup(func() { fs.Close() })
	var err error
	if e.aLedger, err = device.OpenLedgerIn(e.ctx, fs); err != nil {
		t.Fatal(err)
	}
	e.aClient = e.client(e.a, device.ClientOptions{})
	if e.aAgent, err = device.NewAgent(e.aClient, e.aLedger, e.aPrompts.policy, device.AgentOptions{MinBackoff: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	up := e.createRecord(e.a.UserID, "Blood test", []byte("before the second device"))
	if err := e.aAgent.Sync(e.ctx); err != nil {
		t.Fatal(err)
	}
	if r := e.waitRecord(up.RecordID); r.State != api.RecordSealed {
		t.Fatalf("record before the transfer: %s", r.State)
	}
	e.sealed = up.RecordID
	// A verifies the chain and pins its head, as its agent does.
	if _, err := device.VerifyHistory(e.ctx, e.aClient, fs, e.aLedger.Entries(), device.HistoryOptions{}); err != nil {
		t.Fatal(err)
	}
	enr, err := e.admin.NewEnrollment(e.ctx, e.a.UserID)
	if err != nil {
		t.Fatal(err)
	}
	e.bClient = e.client(nil, device.ClientOptions{})
	if e.b, err = e.bClient.EnrollTransfer(e.ctx, enr.EnrollmentCode, "second phone"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.b.Destroy)
	return e
}

// addRequest returns A's pending add_device request for B.
func (e *transferEnv) addRequest(t *testing.T) *device.Request {
	t.Helper()
	reqs, err := e.aClient.PendingRequests(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Kind == api.KindAddDevice && r.NewDevice != nil && r.NewDevice.DeviceID == e.b.DeviceID {
			return r
		}
	}
	t.Fatalf("no add_device request for %s among %d pending", e.b.DeviceID, len(reqs))
	return nil
}

func (e *transferEnv) ledgerBytes(t *testing.T) *device.State {
	t.Helper()
	st, err := e.aLedger.ExportState(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// fetch asks for B's transfer once (no waiting).
func (e *transferEnv) fetch(t *testing.T, o device.TransferOptions) (*device.Identity, error) {
	t.Helper()
	return e.fetchWithin(t, 10*time.Second, o)
}

func (e *transferEnv) fetchWithin(t *testing.T, d time.Duration, o device.TransferOptions) (*device.Identity, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, d)
	defer cancel()
	if o.PollInterval == 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	return e.bClient.CompleteTransfer(ctx, e.b, o)
}

// TestTransferTwoAgents: the second device joins by transfer; both answer
// for the user, each signing with its own key; the ledger and audit head
// come along; add_device is never auto-approved; the bundle is gone once
// fetched; and the transfer key is never in the server's store or logs.
func TestTransferTwoAgents(t *testing.T) {
	e := newTransferEnv(t)
	ctx := e.ctx

	// An agent whose policy approves everything leaves add_device alone.
	var notices []device.Notice
	auto, _, _ := e.newAgent(e.a, "", e.aPrompts.policy, device.AgentOptions{Notify: func(n device.Notice) { notices = append(notices, n) }})
	if err := auto.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	req := e.addRequest(t)
	left := false
	for _, n := range notices {
		left = left || (n.Kind == device.NoticeAddDevice && n.AddDevice.DeviceID == e.b.DeviceID && n.AddDevice.Name == "second phone")
	}
	if !left || e.aPrompts.count() != 1 || req.State != "pending" {
		t.Fatalf("add_device under an approve-all policy: notices %+v, %d prompts, state %s", notices, e.aPrompts.count(), req.State)
	}
	if _, err := e.fetchWithin(t, 300*time.Millisecond, device.TransferOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the transfer before any approval: %v, want to be still waiting", err)
	}

	// A wrong pairing string (another device's id, or garbage) is refused
	// before anything is signed or sent.
	other := threshold.PairingString("dev_"+strings.Repeat("a", 24), e.b.TransferPublicKey())
	for _, bad := range []string{other, "assent-pair:v1:" + e.b.DeviceID + ":AAAA", e.b.PairingString()[1:]} {
		if _, err := e.aClient.AnswerAddDevice(ctx, req, device.Approve, bad, nil); !errors.Is(err, device.ErrPairing) {
			t.Errorf("AnswerAddDevice with pairing string %q: %v, want ErrPairing", bad, err)
		}
	}
	if r := e.addRequest(t); r.State != "pending" {
		t.Fatalf("request after refused pairings: %s", r.State)
	}

	state, err := e.aClient.AnswerAddDevice(ctx, req, device.Approve, e.b.PairingString(), e.ledgerBytes(t))
	if err != nil || state != "approved" {
		t.Fatalf("AnswerAddDevice: %s, %v", state, err)
	}
	if _, err := e.aClient.AnswerAddDevice(ctx, req, device.Approve, e.b.PairingString(), nil); err == nil {
		t.Error("a second answer to the add_device request was taken")
	}

	dir := t.TempDir()
	ledgerPath, headPath := filepath.Join(dir, "b.ledger"), filepath.Join(dir, "b.head")
	var head *device.AuditHead
	b, err := e.fetch(t, device.TransferOptions{Save: func(id *device.Identity, bu *device.Bundle) error {
		head = bu.AuditHead.Head()
		fs := device.NewFileStorage(device.FilePaths{Ledger: ledgerPath, Head: headPath})
		defer fs.Close()
		return device.ImportTransfer(ctx, fs, bu, id.UserID, time.Now())
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy()
	if b.DeviceKeyID != e.a.DeviceKeyID || b.State != device.StateActive || bytes.Equal(b.SigningPublicKey(), e.a.SigningPublicKey()) {
		t.Fatalf("B: key %s state %s; A: key %s", b.DeviceKeyID, b.State, e.a.DeviceKeyID)
	}
	if head == nil || head.Seq < 1 {
		t.Fatalf("bundle audit head %+v", head)
	}
	// B pinned the head the bundle carried, and its ledger names A as a
	// device it verified.
	fs := device.NewFileStorage(device.FilePaths{Ledger: ledgerPath, Head: headPath})
	pinned, ok, err := device.ReadPinnedHead(ctx, fs)
	if err != nil || !ok || !pinned.Equal(*head) {
		t.Fatalf("B's pinned head %v, %v, %v; want %v", pinned, ok, err, head)
	}
	fs.Close()
	// The bundle was handed out once and is gone from the store.
	if _, err := e.node.Store.TakeTransfer(ctx, b.DeviceID, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bundle after its fetch: %v, want ErrNotFound", err)
	}

	// B's ledger is A's: B knows the record sealed before it joined.
	bPrompts := &prompts{decide: approveAll}
	bAgent, bClient, bLedger := e.newAgent(b, ledgerPath, bPrompts.policy, device.AgentOptions{})
	if !bLedger.HoldsRecord(e.sealed) {
		t.Error("B's imported ledger does not hold the record A sealed")
	}
	if key, ok := bLedger.Devices()[e.a.DeviceID]; !ok || !bytes.Equal(key, e.a.SigningPublicKey()) {
		t.Error("B's ledger does not record A, the device it verified by the transfer")
	}
	_ = bClient

	// Both answer for the user, each with its own key.
	for _, who := range []struct {
		name  string
		agent *device.Agent
		id    *device.Identity
	}{{"B", bAgent, b}, {"A", e.aAgent, e.a}} {
		up := e.createRecord(e.a.UserID, "Record of "+who.name, []byte("content for "+who.name))
		if err := who.agent.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		r := e.waitRecord(up.RecordID)
		if r.State != api.RecordSealed || r.Approval == nil || r.Approval.DeviceID != who.id.DeviceID {
			t.Fatalf("record answered by %s: %+v", who.name, r)
		}
		if !ed25519.Verify(who.id.SigningPublicKey(), r.Approval.Statement, r.Approval.Signature) {
			t.Errorf("record answered by %s: the signature is not %s's", who.name, who.name)
		}
		other := e.a
		if who.id == e.a {
			other = b
		}
		if ed25519.Verify(other.SigningPublicKey(), r.Approval.Statement, r.Approval.Signature) {
			t.Errorf("record answered by %s verifies under the other device's key", who.name)
		}
	}

	// A records B as a device it verified; B's check of the history then
	// extends the head it took over and finds nothing unexpected.
	if err := e.aLedger.AppendDevice(b.DeviceID, b.SigningPublicKey(), req.RequestID, time.Now()); err != nil {
		t.Fatal(err)
	}
	bfs := device.NewFileStorage(device.FilePaths{Head: headPath})
	defer bfs.Close()
	h, err := device.VerifyHistory(ctx, bClient, bfs, bLedger.Entries(), device.HistoryOptions{All: true})
	if err != nil {
		t.Fatalf("B's history check: %v", err)
	}
	for _, f := range h.Alerts() {
		t.Errorf("B's history check alerts: %s", f)
	}
	ha, err := device.VerifyHistory(ctx, e.aClient, e.aLedger.Storage(), e.aLedger.Entries(), device.HistoryOptions{})
	if err != nil {
		t.Fatalf("A's history check: %v", err)
	}
	for _, f := range ha.Alerts() {
		t.Errorf("A's history check alerts: %s", f)
	}

	// The evidence of B is A's signed add_device statement.
	if d, err := e.node.Store.GetDevice(ctx, b.DeviceID); err != nil || d.State != api.DeviceActive ||
		!ed25519.Verify(e.a.SigningPublicKey(), d.Evidence.AddStatement, d.Evidence.AddSignature) || d.Evidence.EnrollSignature == nil {
		t.Errorf("B in the store: %+v, %v; want active with A's signed add_device statement and its own proof", d, err)
	}

	// The transfer key never reached the server: not in its database
	// (with its WAL) nor its log, in any encoding.
	pub := e.b.TransferPublicKey()
	forms := map[string][]byte{
		"raw":       pub,
		"base32":    []byte(strings.TrimRight(base32.StdEncoding.EncodeToString(pub), "=")),
		"base64":    []byte(base64.StdEncoding.EncodeToString(pub)),
		"base64url": []byte(base64.RawURLEncoding.EncodeToString(pub)),
		"hex":       []byte(hex.EncodeToString(pub)),
		"pairing":   []byte(e.b.PairingString()),
	}
	files, _ := filepath.Glob(filepath.Join(e.cfg.DataDir, "*"))
	scanned, sawHash := 0, false
	hash := sha256.Sum256(pub)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // a directory
		}
		if bytes.HasPrefix(data, []byte("SQLite format 3\x00")) {
			scanned++ // the database itself (its WAL and the rest are scanned too)
		}
		for name, form := range forms {
			if bytes.Contains(data, form) {
				t.Errorf("%s holds the transfer public key (%s)", f, name)
			}
		}
		// The scan sees what the store keeps: the key's hash, in the
		// add_device statement, is there.
		sawHash = sawHash || bytes.Contains(data, hash[:])
	}
	if !sawHash {
		t.Error("the store's files do not hold the add_device statement's key hash: the scan reads nothing it keeps")
	}
	if scanned == 0 {
		t.Fatal("the SQLite database was not among the files scanned")
	}
	logs := []byte(e.logs.String())
	if len(logs) == 0 {
		t.Fatal("no server log captured")
	}
	for name, form := range forms {
		if bytes.Contains(logs, form) {
			t.Errorf("the server log holds the transfer public key (%s)", name)
		}
	}
}

// TestTransferDenied: a denied add_device leaves the new device unable to
// confirm or answer, for good.
func TestTransferDenied(t *testing.T) {
	e := newTransferEnv(t)
	req := e.addRequest(t)
	if state, err := e.aClient.AnswerAddDevice(e.ctx, req, device.Deny, "", nil); err != nil || state != "denied" {
		t.Fatalf("deny: %s, %v", state, err)
	}
	_, err := e.fetch(t, device.TransferOptions{})
	var ae *device.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Code != api.ErrTransferDenied.Code {
		t.Fatalf("transfer after a deny: %v, want 403 transfer_denied", err)
	}
	// Even with kD in hand (as if stolen) it cannot confirm: the server
	// moved it to cancelled.
	d, err := e.node.Store.GetDevice(e.ctx, e.b.DeviceID)
	if err != nil || d.State != api.DeviceCancelled {
		t.Fatalf("denied device: %v, %v", d, err)
	}
	if list, err := e.aClient.PendingRequests(e.ctx); err != nil || len(list) != 0 {
		t.Errorf("pending after the deny: %d, %v", len(list), err)
	}
}

// TestTransferBadBundles: the new device refuses a tampered bundle or
// statement, a bundle for another transfer key, and a bundle whose kD is
// not the user's pkD; nothing is saved or confirmed.
func TestTransferBadBundles(t *testing.T) {
	t.Run("for another transfer key", func(t *testing.T) {
		e := newTransferEnv(t)
		// The user carried a pairing string with B's id but another key
		// (what a server or a bystander swapping the QR code would try).
		other := newTransferKey(t)
		if _, err := e.aClient.AnswerAddDevice(e.ctx, e.addRequest(t), device.Approve,
			threshold.PairingString(e.b.DeviceID, other), e.ledgerBytes(t)); err != nil {
			t.Fatal(err)
		}
		saved := false
		_, err := e.fetch(t, device.TransferOptions{Save: func(*device.Identity, *device.Bundle) error { saved = true; return nil }})
		if !errors.Is(err, device.ErrTransfer) || saved {
			t.Fatalf("bundle for another key: %v (saved %v), want ErrTransfer", err, saved)
		}
		if d, _ := e.node.Store.GetDevice(e.ctx, e.b.DeviceID); d.State == api.DeviceActive {
			t.Fatal("the device became active")
		}
	})

	// The rest forge the answer the server hands out, from a statement A
	// signs and a bundle sealed to B's key.
	e := newTransferEnv(t)
	req := e.addRequest(t)
	hash := sha256.Sum256(e.b.TransferPublicKey())
	st := threshold.AddDeviceStatement{
		RequestID: req.RequestID, UserID: e.a.UserID, NewDeviceID: e.b.DeviceID, SigningPublicKey: req.NewDevice.SigningPublicKey,
		TransferKeyHash: hash[:], SenderDeviceID: e.a.DeviceID, DeviceKeyID: e.a.DeviceKeyID,
		Decision: threshold.DecisionApprove, ExpiresAt: req.ExpiresAt,
	}
	stmt, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sig := threshold.Sign(e.a.SigningKey, stmt)
	bundleWith := func(kD []byte, stmt []byte) []byte {
		plain, err := device.MarshalBundle(&device.Bundle{Version: 1, UserID: e.a.UserID, DeviceKey: kD,
			Devices: []device.BundleDevice{{DeviceID: e.a.DeviceID, DeviceKeyID: e.a.DeviceKeyID, State: "active", SigningPublicKey: e.a.SigningPublicKey()}}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := device.SealBundle(rand.Reader, e.b.TransferPublicKey(), stmt, plain)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := &api.Transfer{DeviceID: e.b.DeviceID, UserID: e.a.UserID, RequestID: req.RequestID, SenderDeviceID: e.a.DeviceID,
		Statement: stmt, Signature: sig, Bundle: bundleWith(e.a.OPRFKey.Bytes(), stmt)}
	id, b, err := e.b.OpenTransfer(good)
	if err != nil {
		t.Fatalf("the well-formed forgery's control: %v", err)
	}
	id.Destroy()
	b.Destroy()

	otherKD, err := oprf.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good.Bundle)
	flipped[len(flipped)-5] ^= 1
	editedStmt := bytes.Clone(stmt)
	editedStmt[len(editedStmt)-1] ^= 1
	otherSender := ed25519.NewKeyFromSeed(make([]byte, 32))
	for name, edit := range map[string]func(x *api.Transfer){
		"tampered bundle":         func(x *api.Transfer) { x.Bundle = flipped },
		"truncated bundle":        func(x *api.Transfer) { x.Bundle = x.Bundle[:20] },
		"tampered statement":      func(x *api.Transfer) { x.Statement = editedStmt },
		"kD other than pkD":       func(x *api.Transfer) { x.Bundle = bundleWith(otherKD.Bytes(), stmt) },
		"signature by another":    func(x *api.Transfer) { x.Signature = threshold.Sign(otherSender, stmt) },
		"another request":         func(x *api.Transfer) { x.RequestID = "req_" + strings.Repeat("b", 24) },
		"bundle for another info": func(x *api.Transfer) { x.Bundle = bundleWith(e.a.OPRFKey.Bytes(), append(bytes.Clone(stmt), 0)) },
	} {
		x := *good
		edit(&x)
		if _, _, err := e.b.OpenTransfer(&x); !errors.Is(err, device.ErrTransfer) {
			t.Errorf("%s: %v, want ErrTransfer", name, err)
		}
	}
}

// newTransferKey returns another X25519 public key, as a swapped pairing
// string would carry (any 32 bytes are one).
func newTransferKey(t *testing.T) []byte {
	t.Helper()
	pub := make([]byte, 32)
	if _, err := rand.Read(pub); err != nil {
		t.Fatal(err)
	}
	return pub
}
