package device

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/threshold"
)

var ledgerTime = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func testAnswer(t testing.TB, kind, recordID, decision string) *Entry {
	t.Helper()
	if recordID == "" {
		var err error
		if recordID, err = ids.NewRecord(rand.Reader, ledgerTime); err != nil {
			t.Fatal(err)
		}
	}
	e := &Entry{
		At: ledgerTime, RequestID: mustID(t, ids.Request), Kind: kind, UserID: "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa",
		RecordID: recordID, Requester: &Requester{ID: "cli_aaaaaaaaaaaaaaaaaaaaaaaaaa", Name: "Clinic"},
		Purpose: "checkup", Decision: decision, DecidedBy: DecidedByPolicy, ExpiresAt: ledgerTime.Add(5 * time.Minute),
		StatementSHA256: make([]byte, 32), Response: &Response{Decision: decision, Signature: make([]byte, 64)},
	}
	if kind == threshold.KindCreate {
		sum := sha256.Sum256([]byte(recordID))
		e.Record = &RecordView{Title: "Blood test", ContentType: "application/pdf", Size: 1234, ContentSHA256: sum[:]}
	}
	return e
}

func openTestLedger(t *testing.T, path string) *Ledger {
	t.Helper()
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// fillLedger writes a create, its outcome and an access, and returns their
// entries.
func fillLedger(t *testing.T, path string) (create, access *Entry) {
	t.Helper()
	l := openTestLedger(t, path)
	create = testAnswer(t, threshold.KindCreate, "", threshold.DecisionApprove)
	if err := l.AppendAnswer(create); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendOutcome(create.RequestID, OutcomeAccepted, "approved", "", ledgerTime); err != nil {
		t.Fatal(err)
	}
	access = testAnswer(t, threshold.KindAccess, create.RecordID, threshold.DecisionDeny)
	if err := l.AppendAnswer(access); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return create, access
}

func TestLedgerReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d", "device.ledger")
	create, access := fillLedger(t, path)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("ledger mode %04o, want 0600", fi.Mode().Perm())
	}
	l := openTestLedger(t, path)
	if l.Repaired() {
		t.Error("a clean ledger reported a repair")
	}
	a, out, ok := l.Answer(create.RequestID)
	if !ok || out == nil || out.Outcome != OutcomeAccepted || out.State != "approved" || a.Record.Title != "Blood test" {
		t.Errorf("create answer after reopening: %+v, outcome %+v, %v", a, out, ok)
	}
	if a, out, ok := l.Answer(access.RequestID); !ok || out != nil || a.Decision != threshold.DecisionDeny {
		t.Errorf("access answer after reopening: %+v, outcome %+v, %v", a, out, ok)
	}
	r, ok := l.Record(create.RecordID)
	if !ok || r.Title != "Blood test" || r.Size != 1234 || !bytes.Equal(r.ContentSHA256, create.Record.ContentSHA256) {
		t.Errorf("record as the ledger knows it: %+v, %v", r, ok)
	}
	if !l.HoldsRecord(create.RecordID) {
		t.Error("HoldsRecord false for a created record")
	}
	other, _ := ids.NewRecord(rand.Reader, ledgerTime)
	if _, ok := l.Record(other); ok || l.HoldsRecord(other) {
		t.Error("an unknown record is known")
	}

	// No second answer to the same request, before or after a restart.
	again := testAnswer(t, threshold.KindAccess, create.RecordID, threshold.DecisionApprove)
	again.RequestID = access.RequestID
	if err := l.AppendAnswer(again); !errors.Is(err, ErrAnswered) {
		t.Errorf("second answer: got %v, want ErrAnswered", err)
	}
	// No second create of a record the ledger holds, whatever the decision.
	dup := testAnswer(t, threshold.KindCreate, create.RecordID, threshold.DecisionDeny)
	if err := l.AppendAnswer(dup); !errors.Is(err, ErrRefused) {
		t.Errorf("create of a held record: got %v, want ErrRefused", err)
	}

	entries, err := ReadLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[0].Seq != 1 || entries[2].RequestID != access.RequestID ||
		entries[1].Type != EntryOutcome || entries[0].Prev != strings.Repeat("0", 64) {
		t.Errorf("ReadLedger: %d entries %+v", len(entries), entries)
	}
}

func TestLedgerDeniedCreateIsNotAKnownRecord(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "l"))
	e := testAnswer(t, threshold.KindCreate, "", threshold.DecisionDeny)
	if err := l.AppendAnswer(e); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Record(e.RecordID); ok {
		t.Error("a record whose creation was denied is shown as known")
	}
	if !l.HoldsRecord(e.RecordID) {
		t.Error("a denied create must still block the record id")
	}
}

func TestLedgerTamper(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger")
	fillLedger(t, path)
	orig, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(orig), "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	join := func(ls ...string) []byte { return []byte(strings.Join(ls, "")) }

	cases := map[string][]byte{
		"edit first line":       []byte(strings.Replace(string(orig), "Blood test", "Blood tesT", 1)),
		"edit decision":         []byte(strings.Replace(string(orig), `"decision":"approve"`, `"decision":"deny"`, 1)),
		"remove first line":     join(lines[1], lines[2]),
		"remove middle line":    join(lines[0], lines[2]),
		"swap lines":            join(lines[1], lines[0], lines[2]),
		"duplicate line":        join(lines[0], lines[0], lines[1], lines[2]),
		"reformatted line":      join(strings.Replace(lines[0], `{"seq":1,`, `{ "seq":1,`, 1), lines[1], lines[2]),
		"blank line":            join(lines[0], "\n", lines[1], lines[2]),
		"garbage line":          join(lines[0], "not json\n", lines[1], lines[2]),
		"unknown field":         join(strings.Replace(lines[0], `{"seq":1,`, `{"seq":1,"x":1,`, 1), lines[1], lines[2]),
		"outcome before answer": join(lines[1], lines[0], lines[2]),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenLedger(path); !errors.Is(err, ErrLedger) {
				t.Errorf("OpenLedger: got %v, want ErrLedger", err)
			}
			if _, err := ReadLedger(path); !errors.Is(err, ErrLedger) {
				t.Errorf("ReadLedger: got %v, want ErrLedger", err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, data) {
				t.Error("a damaged ledger was changed by opening it")
			}
		})
	}
}

func TestLedgerIncompleteLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	fillLedger(t, path)
	whole, _ := os.ReadFile(path)
	partial := append(bytes.Clone(whole), `{"seq":4,"prev":"ab`...)
	if err := os.WriteFile(path, partial, 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := ReadLedger(path)
	if err != nil || len(entries) != 3 {
		t.Fatalf("ReadLedger with a partial line: %d entries, %v", len(entries), err)
	}
	l := openTestLedger(t, path)
	if !l.Repaired() {
		t.Error("the cut was not reported")
	}
	now, _ := os.ReadFile(path)
	if !bytes.Equal(now, whole) {
		t.Error("the incomplete line was not cut off exactly")
	}
	if err := l.AppendAnswer(testAnswer(t, threshold.KindCreate, "", threshold.DecisionApprove)); err != nil {
		t.Fatalf("append after the repair: %v", err)
	}
	l.Close()
	if entries, err := ReadLedger(path); err != nil || len(entries) != 4 {
		t.Errorf("after repair and append: %d entries, %v", len(entries), err)
	}
}

func TestLedgerLockAndPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	l := openTestLedger(t, path)
	if _, err := OpenLedger(path); !errors.Is(err, ErrLedgerLocked) {
		t.Errorf("second open: got %v, want ErrLedgerLocked", err)
	}
	l.Close()
	l2, err := OpenLedger(path)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	l2.Close()

	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLedger(path); !errors.Is(err, ErrLedger) {
		t.Errorf("group-readable ledger: got %v, want ErrLedger", err)
	}
	if _, err := ReadLedger(path); !errors.Is(err, ErrLedger) {
		t.Errorf("ReadLedger of a group-readable ledger: got %v, want ErrLedger", err)
	}
}

// TestLedgerWriteFailure: when the file cannot be written, the answer is
// refused (so it is never posted), the request is not marked answered, and
// the ledger refuses to go on.
func TestLedgerWriteFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	l := openTestLedger(t, path)
	first := testAnswer(t, threshold.KindCreate, "", threshold.DecisionApprove)
	if err := l.AppendAnswer(first); err != nil {
		t.Fatal(err)
	}
	l.st.(*FileStorage).ledger.Close() // the storage goes away under the ledger
	e := testAnswer(t, threshold.KindCreate, "", threshold.DecisionApprove)
	if err := l.AppendAnswer(e); !errors.Is(err, ErrLedger) {
		t.Fatalf("append to a failed file: got %v, want ErrLedger", err)
	}
	if _, _, ok := l.Answer(e.RequestID); ok {
		t.Error("a failed append left the request marked answered")
	}
	if l.HoldsRecord(e.RecordID) {
		t.Error("a failed append left the record held")
	}
	if err := l.AppendOutcome(first.RequestID, OutcomeAccepted, "approved", "", ledgerTime); !errors.Is(err, ErrLedger) {
		t.Errorf("append after a failure that could not be undone: got %v", err)
	}
	entries, err := ReadLedger(path)
	if err != nil || len(entries) != 1 {
		t.Errorf("file after the failure: %d entries, %v", len(entries), err)
	}
}

func TestLedgerRejectsBadEntries(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "l"))
	mutate := map[string]func(e *Entry){
		"bad kind":          func(e *Entry) { e.Kind = "delete" },
		"bad decision":      func(e *Entry) { e.Decision = "maybe"; e.Response.Decision = "maybe" },
		"bad request id":    func(e *Entry) { e.RequestID = "req_x" },
		"bad record id":     func(e *Entry) { e.RecordID = "not-a-uuid" },
		"bad user id":       func(e *Entry) { e.UserID = "" },
		"no digest":         func(e *Entry) { e.Record.ContentSHA256 = nil },
		"no response":       func(e *Entry) { e.Response = nil },
		"response mismatch": func(e *Entry) { e.Response.Decision = threshold.DecisionDeny },
	}
	for name, fn := range mutate {
		e := testAnswer(t, threshold.KindCreate, "", threshold.DecisionApprove)
		fn(e)
		if err := l.AppendAnswer(e); !errors.Is(err, ErrLedger) {
			t.Errorf("%s: got %v, want ErrLedger", name, err)
		}
	}
	if err := l.AppendOutcome(mustID(t, ids.Request), OutcomeAccepted, "approved", "", ledgerTime); !errors.Is(err, ErrLedger) {
		t.Errorf("outcome of an unanswered request: got %v", err)
	}
	l.Close()
	if entries, err := ReadLedger(l.st.(*FileStorage).paths.Ledger); err != nil || len(entries) != 0 {
		t.Errorf("refused entries reached the file: %d, %v", len(entries), err)
	}
}

func FuzzReadLedger(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed")
	l, err := OpenLedger(path)
	if err != nil {
		f.Fatal(err)
	}
	for _, kind := range []string{threshold.KindCreate, threshold.KindAccess} {
		e := testAnswer(f, kind, "", threshold.DecisionApprove)
		if err := l.AppendAnswer(e); err != nil {
			f.Fatal(err)
		}
		if err := l.AppendOutcome(e.RequestID, OutcomeRejected, "", "conflict", ledgerTime); err != nil {
			f.Fatal(err)
		}
	}
	l.Close()
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st := newLedgerState(true)
		n, err := st.read(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrLedger) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if n > int64(len(data)) || int64(len(st.entries)) != st.seq {
			t.Fatalf("read %d of %d bytes, %d entries, seq %d", n, len(data), len(st.entries), st.seq)
		}
	})
}

// TestLedgerDeviceLines: devices this device verified are recorded once,
// survive a reopen and a transfer export, and malformed lines are refused.
func TestLedgerDeviceLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	l := openTestLedger(t, path)
	other := newIdentity(t, "https://assent.example")
	if err := l.AppendDevice(other.DeviceID, other.SigningPublicKey(), "", ledgerTime); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendDevice(other.DeviceID, other.SigningPublicKey(), "", ledgerTime); !errors.Is(err, ErrLedger) {
		t.Errorf("second line for the device: %v", err)
	}
	for name, f := range map[string]func() error{
		"bad device id": func() error { return l.AppendDevice("dev_x", other.SigningPublicKey(), "", ledgerTime) },
		"short key": func() error {
			return l.AppendDevice(mustID(t, ids.Device), other.SigningPublicKey()[:31], "", ledgerTime)
		},
		"bad request id": func() error {
			return l.AppendDevice(mustID(t, ids.Device), other.SigningPublicKey(), "req_x", ledgerTime)
		},
	} {
		if err := f(); !errors.Is(err, ErrLedger) {
			t.Errorf("%s: %v, want ErrLedger", name, err)
		}
	}
	added := newIdentity(t, "https://assent.example")
	if err := l.AppendDevice(added.DeviceID, added.SigningPublicKey(), mustID(t, ids.Request), ledgerTime); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openTestLedger(t, path)
	devs := l.Devices()
	if len(devs) != 2 || !devs[other.DeviceID].Equal(other.SigningPublicKey()) || !devs[added.DeviceID].Equal(added.SigningPublicKey()) {
		t.Errorf("after reopen: %v", devs)
	}
	entries, err := ReadLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := WriteLedger(&out, entries); err != nil || !strings.Contains(out.String(), "DEVICE  "+other.DeviceID) {
		t.Errorf("WriteLedger: %v\n%s", err, out.String())
	}
}

// An outcome line is written at once (another reader sees it) but synced
// only by the next answer or by Close, so that an answer costs one fsync;
// an answer line is synced before AppendAnswer returns.
func TestLedgerOutcomeSyncedWithNextAnswer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	l := openTestLedger(t, path)
	fs := l.st.(*FileStorage)
	unsynced := func() bool {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		return fs.dirty
	}
	first := testAnswer(t, threshold.KindCreate, "", threshold.DecisionApprove)
	if err := l.AppendAnswer(first); err != nil {
		t.Fatal(err)
	}
	if unsynced() {
		t.Fatal("an answer line is not synced when AppendAnswer returns")
	}
	if err := l.AppendOutcome(first.RequestID, OutcomeAccepted, "approved", "", ledgerTime); err != nil {
		t.Fatal(err)
	}
	if !unsynced() {
		t.Error("the outcome line was synced on its own")
	}
	if entries, err := ReadLedger(path); err != nil || len(entries) != 2 || entries[1].Type != EntryOutcome {
		t.Errorf("another reader after the outcome: %d entries, %v", len(entries), err)
	}
	second := testAnswer(t, threshold.KindCreate, "", threshold.DecisionApprove)
	if err := l.AppendAnswer(second); err != nil {
		t.Fatal(err)
	}
	if unsynced() {
		t.Error("the next answer's sync left bytes unsynced")
	}
	if err := l.AppendOutcome(second.RequestID, OutcomeAccepted, "approved", "", ledgerTime); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if unsynced() {
		t.Error("Close left the last outcome unsynced")
	}
	if entries, err := ReadLedger(path); err != nil || len(entries) != 4 {
		t.Errorf("after Close: %d entries, %v", len(entries), err)
	}
}

// A ledger on a storage it does not own syncs the outcome lines at Close
// and leaves the storage open.
func TestLedgerCloseFlushesStorageItDoesNotOwn(t *testing.T) {
	fs := NewFileStorage(FilePaths{Ledger: filepath.Join(t.TempDir(), "ledger")})
	defer fs.Close()
	l, err := OpenLedgerIn(t.Context(), fs)
	if err != nil {
		t.Fatal(err)
	}
	e := testAnswer(t, threshold.KindCreate, "", threshold.DecisionApprove)
	if err := l.AppendAnswer(e); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendOutcome(e.RequestID, OutcomeAccepted, "approved", "", ledgerTime); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if fs.dirty {
		t.Error("Close left the outcome unsynced")
	}
	if _, err := fs.ReadLedger(t.Context()); err != nil {
		t.Errorf("the storage was closed with the ledger: %v", err)
	}
}
