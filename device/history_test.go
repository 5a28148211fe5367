package device_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/assent-dev/assent/audit"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/sqlite"
)

// watched is one enrolled device with a file storage (keystore layout:
// ledger and head next to each other), its ledger and agent.
type watched struct {
	id     *device.Identity
	st     *device.FileStorage
	ledger *device.Ledger
	agent  *device.Agent
	client *device.Client
}

func (e *serverEnv) watched(id *device.Identity) *watched {
	e.t.Helper()
	st := device.NewFileStorage(device.DefaultFilePaths(filepath.Join(e.t.TempDir(), "device.key")))
	e.t.Cleanup(func() { st.Close() })
	l, err := device.OpenLedgerIn(e.ctx, st)
	if err != nil {
		e.t.Fatal(err)
	}
	c := e.client(id, device.ClientOptions{})
	a, err := device.NewAgent(c, l, (&prompts{decide: approveAll}).policy, device.AgentOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return &watched{id: id, st: st, ledger: l, agent: a, client: c}
}

// sealOne creates a record for w's user and lets w approve it.
func (e *serverEnv) sealOne(w *watched, title string) string {
	e.t.Helper()
	up := e.createRecord(w.id.UserID, title, []byte(title))
	if err := w.agent.Sync(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if r := e.waitRecord(up.RecordID); r.State != store.RecordSealed {
		e.t.Fatalf("record %s: %s", up.RecordID, r.State)
	}
	return up.RecordID
}

func pinned(t *testing.T, s device.Storage) *device.AuditHead {
	t.Helper()
	h, _, err := device.ReadPinnedHead(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// rewriteChain replaces the user's chain in the server's SQLite file with
// edit's result, every entry numbered and hashed again: what a server that
// wants to hide entries (or change them) and still serve a chain that
// verifies would do.
func (e *serverEnv) rewriteChain(c *device.Client, uid string, edit func([]*audit.Entry) []*audit.Entry) {
	e.t.Helper()
	chain, err := c.Audit(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	chain = edit(chain)
	prev := make([]byte, 32)
	for i, en := range chain {
		en.Seq, en.PrevHash = int64(i+1), prev
		if en.Hash, err = audit.Hash(en); err != nil {
			e.t.Fatal(err)
		}
		prev = en.Hash
	}
	if err := audit.VerifyChain(chain); err != nil {
		e.t.Fatalf("the rewritten chain does not verify: %v", err)
	}
	db, err := sql.Open("sqlite", filepath.Join(e.cfg.DataDir, sqlite.FileName))
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := tx.Exec(`DELETE FROM audit WHERE user_id = ?`, uid); err != nil {
		e.t.Fatal(err)
	}
	for _, en := range chain {
		var details any
		if len(en.Details) > 0 {
			details = en.Details
		}
		if _, err := tx.Exec(`INSERT INTO audit (user_id, seq, event, actor, subject, details, at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			en.UserID, en.Seq, en.Event, en.Actor, en.Subject, details, en.At.Unix(), en.PrevHash, en.Hash); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
	// The server serves exactly this chain now, and it verifies.
	if got, err := c.Audit(e.ctx); err != nil || len(got) != len(chain) {
		e.t.Fatalf("after the rewrite the server serves %d entries, %v", len(got), err)
	}
}

// without returns chain without the entries drop picks.
func without(chain []*audit.Entry, drop func(*audit.Entry) bool) []*audit.Entry {
	var out []*audit.Entry
	for _, en := range chain {
		if !drop(en) {
			out = append(out, en)
		}
	}
	return out
}

func isApprovalOf(requestID string) func(*audit.Entry) bool {
	return func(en *audit.Entry) bool { return en.Event == store.EventApproved && en.Subject == requestID }
}

// TestHistoryPinsAndExtends: the first check pins the chain's last entry;
// a later one accepts a chain that extends it and moves the pin; the
// device's own enrollment and answers are no alert.
func TestHistoryPinsAndExtends(t *testing.T) {
	e := newServerEnv(t, nil)
	w := e.watched(e.enroll())
	h, err := w.agent.VerifyHistory(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Previous != nil || h.Head == nil || len(h.Findings) != 0 {
		t.Fatalf("first check: previous %v, head %v, findings %v", h.Previous, h.Head, h.Findings)
	}
	first := pinned(t, w.st)
	if first == nil || !first.Equal(*h.Head) || first.Seq != int64(len(h.Chain)) {
		t.Fatalf("pinned %v after a chain of %d entries", first, len(h.Chain))
	}
	rid := e.sealOne(w, "Blood test")
	h, err = w.agent.VerifyHistory(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Findings) != 0 {
		t.Errorf("own answers reported: %v", h.Findings)
	}
	now := pinned(t, w.st)
	if now.Seq <= first.Seq || !h.Previous.Equal(*first) || !now.Equal(*h.Head) {
		t.Errorf("pin did not move forward: %v -> %v", first, now)
	}
	if cr := h.Records[rid]; cr == nil || !cr.Verified || cr.DeviceID != w.id.DeviceID {
		t.Errorf("the sealed record is not a verified chain record: %+v", cr)
	}
}

// TestHistoryRewrittenRefused: a server that removes entries and hashes
// the rest again serves a chain that verifies on its own; the pinned head
// catches it. So do a shorter chain and a different entry at the pinned
// seq. Nothing is pinned then.
func TestHistoryRewrittenRefused(t *testing.T) {
	e := newServerEnv(t, nil)
	w := e.watched(e.enroll())
	e.sealOne(w, "first")
	e.sealOne(w, "second")
	if _, err := w.agent.VerifyHistory(e.ctx); err != nil {
		t.Fatal(err)
	}
	head := pinned(t, w.st)

	check := func(name string) {
		t.Helper()
		_, err := device.VerifyHistory(e.ctx, w.client, w.st, nil, device.HistoryOptions{})
		if !errors.Is(err, device.ErrHistory) {
			t.Errorf("%s: %v, want ErrHistory", name, err)
		}
		if now := pinned(t, w.st); !now.Equal(*head) {
			t.Errorf("%s: the pin moved to %v", name, now)
		}
	}

	// Entry 2 (the device's enrollment) removed, the rest hashed again: as
	// long as the chain, or longer, but another hash at the pinned seq.
	e.rewriteChain(w.client, w.id.UserID, func(c []*audit.Entry) []*audit.Entry {
		return without(c, func(en *audit.Entry) bool { return en.Seq == 2 })
	})
	e.createRecord(w.id.UserID, "padding", []byte("p")) // the chain grows past the pinned seq again
	if chain, _ := w.client.Audit(e.ctx); int64(len(chain)) < head.Seq {
		t.Fatalf("the padded chain has %d entries, want at least %d", len(chain), head.Seq)
	}
	check("removed and hashed again")

	// A shorter chain: its last entries cut off (no hash changes below).
	e.rewriteChain(w.client, w.id.UserID, func(c []*audit.Entry) []*audit.Entry { return c[:head.Seq-3] })
	check("shorter")

	// Same seq, another hash: one detail of an entry changed.
	e.rewriteChain(w.client, w.id.UserID, func(c []*audit.Entry) []*audit.Entry {
		for len(c) < int(head.Seq) {
			c = append(c, &audit.Entry{UserID: w.id.UserID, Event: store.EventRecordExpired, Actor: "server", At: c[len(c)-1].At})
		}
		c[head.Seq-1].Subject += "x"
		return c
	})
	check("same seq, another hash")
}

// TestHistoryLedgerAgainstChain: with no head pinned, the ledger alone
// catches a chain that lost one of the device's accepted answers, or holds
// it with another signature.
func TestHistoryLedgerAgainstChain(t *testing.T) {
	e := newServerEnv(t, nil)
	w := e.watched(e.enroll())
	rid := e.sealOne(w, "kept")
	var requestID string
	for _, en := range w.ledger.Entries() {
		if en.Type == device.EntryAnswer && en.RecordID == rid {
			requestID = en.RequestID
		}
	}
	fresh := func() device.Storage { return device.NewMemoryStorage() } // no head pinned

	// Unchanged: passes.
	if h, err := device.VerifyHistory(e.ctx, w.client, fresh(), w.ledger.Entries(), device.HistoryOptions{}); err != nil || len(h.Findings) != 0 {
		t.Fatalf("untouched chain: %v, %v", err, h)
	}

	// The approval's signature altered (and the chain hashed again).
	e.rewriteChain(w.client, w.id.UserID, func(c []*audit.Entry) []*audit.Entry {
		for _, en := range c {
			if isApprovalOf(requestID)(en) {
				i := bytes.Index(en.Details, []byte(`"signature":"`)) + len(`"signature":"`)
				d := bytes.Clone(en.Details)
				if d[i] == 'A' {
					d[i] = 'B'
				} else {
					d[i] = 'A'
				}
				en.Details = d
			}
		}
		return c
	})
	h, err := device.VerifyHistory(e.ctx, w.client, fresh(), w.ledger.Entries(), device.HistoryOptions{})
	if !errors.Is(err, device.ErrHistory) || !hasFinding(h, device.FindingAnswerForged, requestID) {
		t.Errorf("altered signature: %v, findings %v", err, findings(h))
	}

	// The approval removed.
	e.rewriteChain(w.client, w.id.UserID, func(c []*audit.Entry) []*audit.Entry { return without(c, isApprovalOf(requestID)) })
	h, err = device.VerifyHistory(e.ctx, w.client, fresh(), w.ledger.Entries(), device.HistoryOptions{})
	if !errors.Is(err, device.ErrHistory) || !hasFinding(h, device.FindingAnswerMissing, requestID) {
		t.Errorf("removed approval: %v, findings %v", err, findings(h))
	}
}

// TestHistoryReportsUnexpectedDevices: a recovery enrollment with the
// user's key while this device is active is reported, with its seq, as an
// alert; a second check does not report it again, one with All does.
func TestHistoryReportsUnexpectedDevices(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	w := e.watched(id)
	if _, err := w.agent.VerifyHistory(e.ctx); err != nil {
		t.Fatal(err)
	}
	other := e.enrollKitHolder(id)
	if other.State != device.StateRecoveryPending {
		t.Fatalf("the second device is %s, want a pending recovery", other.State)
	}

	h, err := w.agent.VerifyHistory(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := findingOf(h, device.FindingDeviceEnrolled)
	if f == nil || f.DeviceID != other.DeviceID || f.Seq < 1 || h.Chain[f.Seq-1].Event != store.EventDeviceEnrolled {
		t.Fatalf("no device_enrolled finding for %s: %v", other.DeviceID, findings(h))
	}
	if f.Breaks() {
		t.Error("an enrollment is breakage, not an alert")
	}
	if h, err := w.agent.VerifyHistory(e.ctx); err != nil || len(h.Findings) != 0 {
		t.Errorf("second check reports again: %v, %v", err, findings(h))
	}
	if h, err := device.VerifyHistory(e.ctx, w.client, w.st, w.ledger.Entries(), device.HistoryOptions{All: true}); err != nil || findingOf(h, device.FindingDeviceEnrolled) == nil {
		t.Errorf("with All the enrollment is reported again: %v, %v", err, findings(h))
	}
}

// enrollKitHolder enrolls a second device with id's key, as a holder of
// its recovery kit would: a recovery, pending while id is active.
func (e *serverEnv) enrollKitHolder(id *device.Identity) *device.Identity {
	e.t.Helper()
	code, err := e.admin.NewEnrollment(e.ctx, id.UserID)
	if err != nil {
		e.t.Fatal(err)
	}
	share, err := oprf.ParsePrivateKey(id.OPRFKey.Bytes())
	if err != nil {
		e.t.Fatal(err)
	}
	defer share.Destroy()
	other, err := e.client(nil, device.ClientOptions{}).Enroll(e.ctx, code.EnrollmentCode, device.EnrollOptions{Name: "kit holder", OPRFKey: share})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(other.Destroy)
	return other
}

func findingOf(h *device.History, kind string) *device.Finding {
	if h == nil {
		return nil
	}
	for i := range h.Findings {
		if h.Findings[i].Kind == kind {
			return &h.Findings[i]
		}
	}
	return nil
}

func hasFinding(h *device.History, kind, requestID string) bool {
	f := findingOf(h, kind)
	return f != nil && f.RequestID == requestID
}

func findings(h *device.History) []string {
	if h == nil {
		return nil
	}
	var out []string
	for _, f := range h.Findings {
		out = append(out, f.String())
	}
	return out
}

// TestRunWatchesHistory: with AuditInterval the agent checks the chain when
// it starts and again later, and tells a new enrollment as a finding.
func TestRunWatchesHistory(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	st := device.NewFileStorage(device.DefaultFilePaths(filepath.Join(t.TempDir(), "device.key")))
	defer st.Close()
	l, err := device.OpenLedgerIn(e.ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	found := make(chan device.Finding, 16)
	a, err := device.NewAgent(e.client(id, device.ClientOptions{}), l, (&prompts{decide: approveAll}).policy, device.AgentOptions{
		AuditInterval: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Notify: func(n device.Notice) {
			if n.Kind == device.NoticeFinding {
				found <- *n.Finding
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.After(20 * time.Second)
	for pinned(t, st) == nil {
		select {
		case <-deadline:
			t.Fatal("Run did not pin a head at start")
		case <-time.After(10 * time.Millisecond):
		}
	}
	other := e.enrollKitHolder(id)
	select {
	case f := <-found:
		if f.Kind != device.FindingDeviceEnrolled || f.DeviceID != other.DeviceID {
			t.Errorf("finding %v, want the enrollment of %s", f, other.DeviceID)
		}
	case <-deadline:
		t.Fatal("no finding for the new enrollment")
	}
}
