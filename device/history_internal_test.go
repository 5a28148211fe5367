package device

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/audit"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/threshold"
)

// chain builds a user's audit chain entry by entry, hashed as the server
// hashes it.
type chain struct {
	t       *testing.T
	uid     string
	entries []*audit.Entry
}

func (c *chain) add(event, actor, subject string, details []byte) *audit.Entry {
	c.t.Helper()
	prev := make([]byte, 32)
	if n := len(c.entries); n > 0 {
		prev = c.entries[n-1].Hash
	}
	e := &audit.Entry{UserID: c.uid, Seq: int64(len(c.entries) + 1), Event: event, Actor: actor, Subject: subject,
		Details: details, At: ledgerTime, PrevHash: prev}
	var err error
	if e.Hash, err = audit.Hash(e); err != nil {
		c.t.Fatal(err)
	}
	c.entries = append(c.entries, e)
	return e
}

// answer adds an approved or denied entry by deviceID, signed with key,
// and returns its statement.
func (c *chain) answer(deviceID string, key ed25519.PrivateKey, kind, decision string, requestID, recordID string) *threshold.Statement {
	c.t.Helper()
	st := &threshold.Statement{RequestID: requestID, Kind: kind, UserID: c.uid, RecordID: recordID, Decision: decision,
		RequesterID: mustID(c.t, ids.Client), Purpose: "checkup", BlindedElements: [][]byte{blindedElement(c.t)}, ExpiresAt: ledgerTime.Add(time.Hour)}
	if kind == threshold.KindCreate {
		sum := sha256.Sum256([]byte(recordID))
		st.ContentSHA256 = sum[:]
	}
	msg, err := st.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	c.answerBytes(deviceID, decision, requestID, msg, threshold.Sign(key, msg))
	return st
}

func (c *chain) answerBytes(deviceID, decision, requestID string, msg, sig []byte) {
	c.t.Helper()
	d, err := json.Marshal(approvalDetails{DeviceID: deviceID, Statement: msg, Signature: sig})
	if err != nil {
		c.t.Fatal(err)
	}
	event := api.AuditApproved
	if decision == threshold.DecisionDeny {
		event = api.AuditDenied
	}
	c.add(event, deviceID, requestID, d)
}

func newRecordID(t *testing.T) string {
	t.Helper()
	rid, err := ids.NewRecord(rand.Reader, ledgerTime)
	if err != nil {
		t.Fatal(err)
	}
	return rid
}

func findingKinds(h *History) map[int64]string {
	out := map[int64]string{}
	if h != nil {
		for _, f := range h.Findings {
			out[f.Seq] = f.Kind
		}
	}
	return out
}

// TestCheckHistoryFindings: what the device expects (itself, the devices
// its ledger records) is no alert; everything else of the device set, and
// answers by others, is, with its seq; a pinned head limits alerts to what
// came after it.
func TestCheckHistoryFindings(t *testing.T) {
	self := newIdentity(t, "https://assent.example")
	known := newIdentity(t, "https://assent.example")
	stranger := newIdentity(t, "https://assent.example")
	ledger := []*Entry{{Type: EntryDevice, DeviceID: known.DeviceID, SigningPublicKey: known.SigningPublicKey()}}

	c := &chain{t: t, uid: self.UserID}
	c.add("user_created", mustID(t, ids.Client), self.UserID, nil)
	c.add(api.AuditDeviceEnrolled, self.DeviceID, self.DeviceID, []byte(`{"device_key_id":"x"}`))   // 2: itself
	c.add(api.AuditDeviceEnrolled, known.DeviceID, known.DeviceID, []byte(`{"device_key_id":"x"}`)) // 3: verified by it
	c.add(api.AuditDeviceEnrolled, stranger.DeviceID, stranger.DeviceID, []byte(`{"state":"recovery_pending"}`))
	rec1, rec2 := newRecordID(t), newRecordID(t)
	c.answer(known.DeviceID, known.SigningKey, threshold.KindCreate, threshold.DecisionApprove, mustID(t, ids.Request), rec1) // 5
	c.answer(stranger.DeviceID, stranger.SigningKey, threshold.KindCreate, threshold.DecisionApprove, mustID(t, ids.Request), rec2)
	c.add(api.AuditDeviceRevoked, self.DeviceID, stranger.DeviceID, nil) // 7: by itself
	c.add(api.AuditDeviceRevoked, known.DeviceID, self.DeviceID, nil)    // 8: by another
	c.add(api.AuditDeviceSuspended, mustID(t, ids.Client), known.DeviceID, nil)
	c.answer(self.DeviceID, self.SigningKey, threshold.KindAccess, threshold.DecisionDeny, mustID(t, ids.Request), rec1) // 10: not in its ledger

	h, err := CheckHistory(self, c.entries, nil, ledger, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{4: FindingDeviceEnrolled, 6: FindingForeignAnswer, 8: FindingDeviceRevoked, 9: FindingDeviceSuspended, 10: FindingForeignAnswer}
	got := findingKinds(h)
	if len(got) != len(want) {
		t.Errorf("findings %v, want %v", got, want)
	}
	for seq, kind := range want {
		if got[seq] != kind {
			t.Errorf("entry %d: finding %q, want %q (all: %v)", seq, got[seq], kind, got)
		}
	}
	for _, f := range h.Findings {
		if f.Breaks() {
			t.Errorf("alert %v counted as breakage", f)
		}
	}
	if r := h.Records[rec1]; r == nil || !r.Verified || r.DeviceID != known.DeviceID || r.Seq != 5 {
		t.Errorf("record approved by a verified device: %+v", r)
	}
	if r := h.Records[rec2]; r == nil || r.Verified {
		t.Errorf("record approved by an unknown device: %+v (known, never verified)", r)
	}
	if !h.Head.Equal(AuditHead{Seq: 10, Hash: c.entries[9].Hash}) {
		t.Errorf("head %v", h.Head)
	}

	// Pinned at 6: alerts only after it.
	pin := &AuditHead{Seq: 6, Hash: c.entries[5].Hash}
	h, err = CheckHistory(self, c.entries, pin, ledger, HistoryOptions{})
	if got := findingKinds(h); err != nil || len(got) != 3 || got[4] != "" || got[6] != "" {
		t.Errorf("after a pin at 6: %v, %v", got, err)
	}
	if h, err := CheckHistory(self, c.entries, pin, ledger, HistoryOptions{All: true}); err != nil || len(h.Findings) != 5 {
		t.Errorf("with All: %v, %v", findingKinds(h), err)
	}
	// Without the ledger's device line, the verified device is a stranger.
	if h, _ := CheckHistory(self, c.entries, nil, nil, HistoryOptions{}); findingKinds(h)[3] != FindingDeviceEnrolled || findingKinds(h)[5] != FindingForeignAnswer {
		t.Errorf("without the device line: %v", findingKinds(h))
	}
	// Devices given by the caller count as verified too.
	if h, _ := CheckHistory(self, c.entries, nil, nil, HistoryOptions{Devices: map[string]ed25519.PublicKey{known.DeviceID: known.SigningPublicKey()}}); findingKinds(h)[3] != "" {
		t.Errorf("with HistoryOptions.Devices: %v", findingKinds(h))
	}
}

// TestCheckHistoryBreakage: a forged signature of a known device, an
// answer of the ledger altered or missing, undecodable details and a chain
// of another user or broken are ErrHistory, with the finding named.
func TestCheckHistoryBreakage(t *testing.T) {
	self := newIdentity(t, "https://assent.example")
	other := newIdentity(t, "https://assent.example")
	base := func() *chain {
		c := &chain{t: t, uid: self.UserID}
		c.add("user_created", mustID(t, ids.Client), self.UserID, nil)
		c.add(api.AuditDeviceEnrolled, self.DeviceID, self.DeviceID, nil)
		return c
	}
	wantBreak := func(name string, c *chain, ledger []*Entry, kind string) {
		t.Helper()
		h, err := CheckHistory(self, c.entries, nil, ledger, HistoryOptions{})
		if !errors.Is(err, ErrHistory) {
			t.Errorf("%s: %v, want ErrHistory", name, err)
			return
		}
		if kind == "" {
			return
		}
		var found bool
		for _, f := range h.Findings {
			found = found || f.Kind == kind && f.Breaks()
		}
		if !found {
			t.Errorf("%s: findings %v, want %s", name, findingKinds(h), kind)
		}
	}

	c := base()
	c.answer(self.DeviceID, other.SigningKey, threshold.KindCreate, threshold.DecisionApprove, mustID(t, ids.Request), newRecordID(t))
	wantBreak("signed by another key in this device's name", c, nil, FindingAnswerForged)

	// The ledger's accepted answer, and the chain's version of it.
	rid, reqID := newRecordID(t), mustID(t, ids.Request)
	c = base()
	st := c.answer(self.DeviceID, self.SigningKey, threshold.KindCreate, threshold.DecisionApprove, reqID, rid)
	msg, _ := st.Marshal()
	sum := sha256.Sum256(msg)
	mine := testAnswer(t, threshold.KindCreate, rid, threshold.DecisionApprove)
	mine.Type, mine.RequestID, mine.UserID, mine.StatementSHA256 = EntryAnswer, reqID, self.UserID, sum[:]
	mine.Response.Signature = threshold.Sign(self.SigningKey, msg)
	accepted := &Entry{Type: EntryOutcome, RequestID: reqID, Outcome: OutcomeAccepted, State: "approved"}
	if h, err := CheckHistory(self, c.entries, nil, []*Entry{mine, accepted}, HistoryOptions{}); err != nil || len(h.Findings) != 0 {
		t.Fatalf("the ledger's own answer: %v, %v", findingKinds(h), err)
	}
	wantBreak("accepted answer missing", base(), []*Entry{mine, accepted}, FindingAnswerMissing)
	// Not accepted (never learned, or refused): not required in the chain.
	if _, err := CheckHistory(self, base().entries, nil, []*Entry{mine}, HistoryOptions{}); err != nil {
		t.Errorf("an answer without an accepted outcome: %v", err)
	}
	// Another statement for the same request, validly signed by this device
	// (a server cannot do that, but a replaced ledger line looks the same).
	c = base()
	st.Purpose = "another purpose"
	msg2, _ := st.Marshal()
	c.answerBytes(self.DeviceID, threshold.DecisionApprove, reqID, msg2, threshold.Sign(self.SigningKey, msg2))
	wantBreak("answer altered", c, []*Entry{mine, accepted}, FindingAnswerAltered)

	c = base()
	c.add(api.AuditApproved, self.DeviceID, reqID, []byte("not json"))
	wantBreak("undecodable details", c, nil, FindingAnswerForged)
	c = base()
	c.answerBytes(self.DeviceID, threshold.DecisionDeny, reqID, msg, threshold.Sign(self.SigningKey, msg)) // an approval filed as a denial
	wantBreak("statement of another decision", c, nil, FindingAnswerForged)

	c = &chain{t: t, uid: other.UserID}
	c.add("user_created", "cli_x", other.UserID, nil)
	wantBreak("another user's chain", c, nil, "")
	c = base()
	c.entries[1].Actor = "dev_forged"
	wantBreak("broken chain", c, nil, "")
}

// TestAgentUsesChainRecords: after VerifyHistory, a create of a record the
// chain shows approved is refused without asking, and an access to one a
// verified device approved is shown as known from the chain, with the
// server's digest compared.
func TestAgentUsesChainRecords(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no call expected", http.StatusTeapot)
	}))
	defer srv.Close()
	id := newIdentity(t, srv.URL)
	client, err := NewClient(srv.URL, id, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []*Prompt
	agent, err := NewAgent(client, openTestLedger(t, t.TempDir()+"/ledger"), func(_ context.Context, p *Prompt) (Decision, error) {
		seen = append(seen, p)
		return "", errors.New("not deciding in this test")
	}, AgentOptions{Now: func() time.Time { return checkNow }})
	if err != nil {
		t.Fatal(err)
	}
	create := validRequest(t, id, threshold.KindCreate)
	access := validRequest(t, id, threshold.KindAccess)
	wrong := validRequest(t, id, threshold.KindAccess)
	agent.chain = map[string]*ChainRecord{
		create.RecordID: {RecordID: create.RecordID, DeviceID: "dev_other", Seq: 7},
		access.RecordID: {RecordID: access.RecordID, DeviceID: "dev_other", Seq: 8, Verified: true, ContentSHA256: access.Record.ContentSHA256},
		wrong.RecordID:  {RecordID: wrong.RecordID, DeviceID: "dev_other", Seq: 9, Verified: true, ContentSHA256: make([]byte, 32)},
	}
	if _, err := agent.HandleRequest(context.Background(), create); !errors.Is(err, ErrRefused) || len(seen) != 0 {
		t.Fatalf("create of a chain record: %v, %d prompts", err, len(seen))
	}
	agent.HandleRequest(context.Background(), access)
	agent.HandleRequest(context.Background(), wrong)
	if len(seen) != 2 {
		t.Fatalf("%d prompts", len(seen))
	}
	if p := seen[0]; p.KnownFromChain == nil || p.KnownFromChain.Seq != 8 || p.Mismatch || !p.UnknownToLedger {
		t.Errorf("access to a chain record: %+v", p)
	}
	if p := seen[1]; p.KnownFromChain == nil || !p.Mismatch {
		t.Errorf("access with another digest than the chain's: %+v", p)
	}
}

// FuzzCheckHistory feeds server-made entries (event, actor, subject and
// details as the server chose them) to the history check, seeded with a
// real approval: never a panic, only ErrHistory as an error, and breakage
// findings only with it.
func FuzzCheckHistory(f *testing.F) {
	self := newIdentity(f, "https://assent.example")
	st := &threshold.Statement{RequestID: mustID(f, ids.Request), Kind: threshold.KindAccess, UserID: self.UserID,
		RecordID: "0190f5b2-7c3a-7000-8000-000000000000", Decision: threshold.DecisionApprove, RequesterID: mustID(f, ids.Client),
		BlindedElements: [][]byte{blindedElement(f)}, ExpiresAt: ledgerTime}
	msg, err := st.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	d, _ := json.Marshal(approvalDetails{DeviceID: self.DeviceID, Statement: msg, Signature: threshold.Sign(self.SigningKey, msg)})
	f.Add(api.AuditApproved, self.DeviceID, st.RequestID, d)
	f.Add(api.AuditDenied, "dev_x", st.RequestID, d)
	f.Add(api.AuditDeviceEnrolled, "dev_x", "dev_x", []byte(`{"device_key_id":"ab"}`))
	f.Add(api.AuditDeviceRevoked, self.DeviceID, "", []byte(nil))
	f.Fuzz(func(t *testing.T, event, actor, subject string, details []byte) {
		c := &chain{t: t, uid: self.UserID}
		c.add("user_created", "cli_x", self.UserID, nil)
		e := &audit.Entry{UserID: self.UserID, Seq: 2, Event: event, Actor: actor, Subject: subject, Details: details,
			At: ledgerTime, PrevHash: c.entries[0].Hash}
		if e.Hash, err = audit.Hash(e); err != nil {
			return // not an entry any server could serve
		}
		c.entries = append(c.entries, e)
		h, err := CheckHistory(self, c.entries, nil, nil, HistoryOptions{})
		if err != nil && !errors.Is(err, ErrHistory) {
			t.Fatalf("undocumented error %v", err)
		}
		if h == nil {
			t.Fatalf("no history for a whole chain (%v)", err)
		}
		breaks := false
		for _, fd := range h.Findings {
			breaks = breaks || fd.Breaks()
		}
		if breaks != (err != nil) {
			t.Fatalf("findings %v with error %v", h.Findings, err)
		}
	})
}

// TestCheckHistoryAddDevice: an answer to an add_device request carries
// the add_device statement: one signed by a known device is expected, one
// by an unknown device is an alert, and one whose signature is not the
// named known device's, or whose statement names another request, sender
// or decision, is breakage.
func TestCheckHistoryAddDevice(t *testing.T) {
	self := newIdentity(t, "https://assent.example")
	stranger := newIdentity(t, "https://assent.example")
	newDev := newIdentity(t, "https://assent.example")
	addAnswer := func(c *chain, by *Identity, key ed25519.PrivateKey, decision string, edit func(*threshold.AddDeviceStatement)) {
		t.Helper()
		st := threshold.AddDeviceStatement{
			RequestID: mustID(t, ids.Request), UserID: c.uid, NewDeviceID: newDev.DeviceID, SigningPublicKey: newDev.SigningPublicKey(),
			TransferKeyHash: make([]byte, 32), SenderDeviceID: by.DeviceID, DeviceKeyID: self.DeviceKeyID,
			Decision: decision, ExpiresAt: ledgerTime.Add(time.Hour),
		}
		subject := st.RequestID
		if edit != nil {
			edit(&st)
		}
		msg, err := st.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c.answerBytes(by.DeviceID, decision, subject, msg, threshold.Sign(key, msg))
	}
	base := func() *chain {
		c := &chain{t: t, uid: self.UserID}
		c.add("user_created", mustID(t, ids.Client), self.UserID, nil)
		c.add(api.AuditDeviceEnrolled, self.DeviceID, self.DeviceID, nil)
		return c
	}

	c := base()
	addAnswer(c, self, self.SigningKey, threshold.DecisionApprove, nil)
	addAnswer(c, self, self.SigningKey, threshold.DecisionDeny, nil)
	if h, err := CheckHistory(self, c.entries, nil, nil, HistoryOptions{All: true}); err != nil || len(h.Alerts()) != 0 {
		t.Fatalf("this device's own add_device answers: %v, alerts %v", err, findingKinds(h))
	}
	c = base()
	addAnswer(c, stranger, stranger.SigningKey, threshold.DecisionApprove, nil)
	h, err := CheckHistory(self, c.entries, nil, nil, HistoryOptions{All: true})
	if err != nil || findingKinds(h)[3] != FindingForeignAnswer {
		t.Fatalf("an unknown device's add_device answer: %v, findings %v", err, findingKinds(h))
	}
	for name, tc := range map[string]struct {
		key  ed25519.PrivateKey
		edit func(*threshold.AddDeviceStatement)
	}{
		"signed by another key": {stranger.SigningKey, nil},
		"another request":       {self.SigningKey, func(s *threshold.AddDeviceStatement) { s.RequestID = mustID(t, ids.Request) }},
		"another sender":        {self.SigningKey, func(s *threshold.AddDeviceStatement) { s.SenderDeviceID = stranger.DeviceID }},
		"another decision":      {self.SigningKey, func(s *threshold.AddDeviceStatement) { s.Decision = threshold.DecisionDeny }},
		"another user":          {self.SigningKey, func(s *threshold.AddDeviceStatement) { s.UserID = stranger.UserID }},
	} {
		c := base()
		addAnswer(c, self, tc.key, threshold.DecisionApprove, tc.edit)
		h, err := CheckHistory(self, c.entries, nil, nil, HistoryOptions{})
		if !errors.Is(err, ErrHistory) || findingKinds(h)[3] != FindingAnswerForged {
			t.Errorf("%s: %v, findings %v, want answer_forged", name, err, findingKinds(h))
		}
	}
}
