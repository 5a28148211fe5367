package device

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/threshold"
)

// Ledger line types.
const (
	// EntryAnswer is written before an answer is posted: it claims the
	// request, so that it is never answered again.
	EntryAnswer = "answer"
	// EntryOutcome is written after the server replied to an answer.
	EntryOutcome = "outcome"
	// EntryDevice records another device of the user that this device
	// verified itself (one it added by transfer, or the sender of its own
	// transfer): its id and signing key. The audit check (VerifyHistory)
	// expects its enrollment and takes its signed answers as the user's.
	EntryDevice = "device"
)

// Who made a decision (Entry.DecidedBy).
const (
	DecidedByPolicy    = "policy"     // the Policy callback (the user, or --auto-approve)
	DecidedByRateLimit = "rate_limit" // denied automatically past the burst limit
)

// Outcomes of an answer (Entry.Outcome).
const (
	OutcomeAccepted = "accepted" // the server took the answer; State says approved or denied
	OutcomeRejected = "rejected" // the server refused it; Error has its code
)

const (
	maxLedgerLine = 64 << 10
	hashHexLen    = 2 * sha256.Size
)

var zeroHash = make([]byte, sha256.Size)

// Entry is one line of the ledger. Seq and Prev are filled in by the ledger.
//
// The ledger is JSON lines kept in a Storage (FileStorage: a file, mode
// 0600). Line n carries Seq n and
// Prev, the hex SHA-256 of the bytes of line n-1 (without its newline; 64
// zeros for line 1), and must be exactly the JSON encoding of its Entry. So
// editing, removing, inserting or reordering any line but the last breaks
// the chain and the ledger does not open. A chain without a key cannot stop
// someone who rewrites the whole file, nor show the loss of lines at its
// end; it shows damage and careless edits, and the device's own answers stay
// checkable against the server's audit chain.
type Entry struct {
	Seq       int64     `json:"seq"`
	Prev      string    `json:"prev"`
	Type      string    `json:"type"` // EntryAnswer or EntryOutcome
	At        time.Time `json:"at"`
	RequestID string    `json:"request_id"`

	// Answer lines.
	Kind     string `json:"kind,omitempty"`
	UserID   string `json:"user_id,omitempty"`
	RecordID string `json:"record_id,omitempty"`
	// Record is, for a create, the record as the request described it (and
	// as the device approved or denied it); for an access, the record as the
	// ledger knew it then, or nil if it did not.
	Record          *RecordView `json:"record,omitempty"`
	Requester       *Requester  `json:"requester,omitempty"`
	Purpose         string      `json:"purpose,omitempty"`
	Decision        string      `json:"decision,omitempty"`
	DecidedBy       string      `json:"decided_by,omitempty"`
	ExpiresAt       time.Time   `json:"expires_at,omitzero"`
	StatementSHA256 []byte      `json:"statement_sha256,omitempty"`
	// Response is the exact answer posted, kept so that an answer whose
	// outcome was never learned (a crash, a lost connection) can be posted
	// again as is, never computed anew. It holds no secret: the server
	// stores the same bytes.
	Response *Response `json:"response,omitempty"`

	// Outcome lines.
	Outcome string `json:"outcome,omitempty"` // OutcomeAccepted or OutcomeRejected
	State   string `json:"state,omitempty"`   // the server's new request state
	Error   string `json:"error,omitempty"`   // the server's error code

	// Device lines (RequestID is the add_device request, or empty).
	DeviceID         string `json:"device_id,omitempty"`
	SigningPublicKey []byte `json:"signing_public_key,omitempty"`
}

// Ledger is the device's own append-only record of every answer it gave,
// kept in a Storage. It is safe for concurrent use; one process at a time
// may hold a ledger open (FileStorage locks the file).
type Ledger struct {
	mu       sync.Mutex
	st       Storage
	owned    bool // Close closes st (OpenLedger made it)
	size     int64
	state    ledgerState
	broken   error // set when a write may have left the storage inconsistent
	repaired bool
}

// ledgerState is what a ledger's lines say, indexed.
type ledgerState struct {
	seq      int64
	last     []byte            // hash of the last line
	answers  map[string]*Entry // by request id
	outcomes map[string]*Entry // by request id, the latest
	records  map[string]*Entry // by record id: the latest approved create
	creates  map[string]bool   // record ids of every create answered
	devices  map[string]*Entry // device lines by device id
	entries  []*Entry          // kept only by ReadLedger
}

func newLedgerState(keep bool) *ledgerState {
	s := &ledgerState{last: zeroHash, answers: map[string]*Entry{}, outcomes: map[string]*Entry{},
		records: map[string]*Entry{}, creates: map[string]bool{}, devices: map[string]*Entry{}}
	if keep {
		s.entries = []*Entry{}
	}
	return s
}

// OpenLedger opens the ledger file at path for appending, creating it (mode
// 0600, parent directory 0700) if absent, and checks the whole chain, as
// OpenLedgerIn on a FileStorage holding only that ledger. It locks the file
// against other processes (ErrLedgerLocked). Errors: ErrLedger for a broken
// chain, a malformed line, a file readable by group or others, or an I/O
// failure.
func OpenLedger(path string) (*Ledger, error) {
	fs := NewFileStorage(FilePaths{Ledger: path})
	l, err := OpenLedgerIn(context.Background(), fs)
	if err != nil {
		fs.Close()
		return nil, err
	}
	l.owned = true
	return l, nil
}

// OpenLedgerIn opens the ledger kept in s and checks its whole chain. A last
// line without its newline (left by a crash during a write, before any
// answer was posted) is cut off, and Repaired reports it. The caller keeps
// ownership of s: Close of the ledger does not close it. Errors: ErrLedger
// for a broken chain, a malformed line or a storage failure;
// ErrLedgerLocked from a storage another process holds.
func OpenLedgerIn(ctx context.Context, s Storage) (*Ledger, error) {
	data, err := s.ReadLedger(ctx)
	if err != nil {
		return nil, err
	}
	if len(data) > maxLedgerSize {
		return nil, fmt.Errorf("%w: ledger of %d bytes is over the limit", ErrLedger, len(data))
	}
	st := newLedgerState(false)
	good, err := st.parse(data)
	if err != nil {
		return nil, err
	}
	l := &Ledger{st: s, size: good, state: *st}
	if good != int64(len(data)) {
		if err := s.TruncateLedger(ctx, good); err != nil {
			return nil, fmt.Errorf("%w: cutting an incomplete last line: %w", ErrLedger, err)
		}
		l.repaired = true
	}
	return l, nil
}

// Storage returns the storage the ledger is kept in.
func (l *Ledger) Storage() Storage { return l.st }

// ReadLedger reads and checks the ledger at path without locking it, and
// returns its entries in order. Errors as OpenLedger; an incomplete last line
// is left out.
func ReadLedger(path string) ([]*Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedger, err)
	}
	defer f.Close()
	if err := checkPrivate(f, path); err != nil {
		return nil, err
	}
	st := newLedgerState(true)
	if _, err := st.read(f); err != nil {
		return nil, err
	}
	return st.entries, nil
}

// ReadLedgerIn reads and checks the ledger kept in s, without repairing
// it, and returns its entries in order; an incomplete last line is left
// out. Errors: ErrLedger.
func ReadLedgerIn(ctx context.Context, s Storage) ([]*Entry, error) {
	data, err := s.ReadLedger(ctx)
	if err != nil {
		return nil, err
	}
	st := newLedgerState(true)
	if _, err := st.parse(data); err != nil {
		return nil, err
	}
	return st.entries, nil
}

func checkPrivate(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrLedger, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrLedger, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; it must be private to its owner (chmod 600)", ErrLedger, path, perm)
	}
	return nil
}

// parse is read over bytes held in memory.
func (s *ledgerState) parse(data []byte) (int64, error) {
	return s.read(bytes.NewReader(data))
}

// read checks every complete line of r and returns the offset just past the
// last one.
func (s *ledgerState) read(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, maxLedgerLine+1)
	var off int64
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return 0, fmt.Errorf("%w: line %d is longer than %d bytes", ErrLedger, s.seq+1, maxLedgerLine)
		case errors.Is(err, io.EOF):
			return off, nil // nothing, or an incomplete last line
		case err != nil:
			return 0, fmt.Errorf("%w: %v", ErrLedger, err)
		}
		if err := s.add(line[:len(line)-1]); err != nil {
			return 0, err
		}
		off += int64(len(line))
	}
}

// add checks one line (without its newline) against the chain and indexes
// it.
func (s *ledgerState) add(line []byte) error {
	n := s.seq + 1
	var e Entry
	if err := decodeStrict(line, &e); err != nil {
		return fmt.Errorf("%w: line %d is not a ledger entry: %v", ErrLedger, n, err)
	}
	if e.Seq != n {
		return fmt.Errorf("%w: line %d has sequence number %d (a line was removed, inserted or moved)", ErrLedger, n, e.Seq)
	}
	if e.Prev != hex.EncodeToString(s.last) {
		return fmt.Errorf("%w: line %d does not follow line %d (a line was edited, removed or inserted)", ErrLedger, n, n-1)
	}
	if canon, err := json.Marshal(&e); err != nil || !bytes.Equal(canon, line) {
		return fmt.Errorf("%w: line %d was edited (not as the ledger wrote it)", ErrLedger, n)
	}
	if err := s.index(&e); err != nil {
		return fmt.Errorf("%w: line %d: %v", ErrLedger, n, err)
	}
	sum := sha256.Sum256(line)
	s.seq, s.last = n, sum[:]
	if s.entries != nil {
		s.entries = append(s.entries, &e)
	}
	return nil
}

// index checks an entry's meaning against what came before and records it.
func (s *ledgerState) index(e *Entry) error {
	if ids.Check(ids.Request, e.RequestID) != nil && !(e.Type == EntryDevice && e.RequestID == "") {
		return errors.New("malformed request id")
	}
	switch e.Type {
	case EntryDevice:
		if ids.Check(ids.Device, e.DeviceID) != nil || len(e.SigningPublicKey) != ed25519.PublicKeySize {
			return errors.New("device line without a device id and a 32-byte signing key")
		}
		if prev := s.devices[e.DeviceID]; prev != nil {
			return fmt.Errorf("second device line for device %s", e.DeviceID)
		}
		s.devices[e.DeviceID] = e
	case EntryAnswer:
		if err := checkAnswerEntry(e); err != nil {
			return err
		}
		if _, dup := s.answers[e.RequestID]; dup {
			return fmt.Errorf("second answer to request %s", e.RequestID)
		}
		s.answers[e.RequestID] = e
		if e.Kind == threshold.KindCreate {
			s.creates[e.RecordID] = true
			if e.Decision == threshold.DecisionApprove {
				s.records[e.RecordID] = e
			}
		}
	case EntryOutcome:
		if _, ok := s.answers[e.RequestID]; !ok {
			return fmt.Errorf("outcome of request %s, which was never answered", e.RequestID)
		}
		if e.Outcome != OutcomeAccepted && e.Outcome != OutcomeRejected {
			return fmt.Errorf("unknown outcome %.20q", e.Outcome)
		}
		s.outcomes[e.RequestID] = e
	default:
		return fmt.Errorf("unknown line type %.20q", e.Type)
	}
	return nil
}

func checkAnswerEntry(e *Entry) error {
	switch {
	case e.Kind != threshold.KindCreate && e.Kind != threshold.KindAccess:
		return fmt.Errorf("unknown kind %.20q", e.Kind)
	case e.Decision != threshold.DecisionApprove && e.Decision != threshold.DecisionDeny:
		return fmt.Errorf("unknown decision %.20q", e.Decision)
	case ids.Check(ids.User, e.UserID) != nil:
		return errors.New("malformed user id")
	case !validRecordID(e.RecordID):
		return errors.New("malformed record id")
	case e.Kind == threshold.KindCreate && (e.Record == nil || len(e.Record.ContentSHA256) != sha256.Size):
		return errors.New("create answer without the record's digest")
	case e.Response == nil || e.Response.Decision != e.Decision:
		return errors.New("answer without its response")
	}
	return nil
}

func validRecordID(id string) bool {
	_, err := ids.RecordTime(id)
	return err == nil
}

// Repaired reports whether OpenLedger cut off an incomplete last line.
func (l *Ledger) Repaired() bool { return l.repaired }

// appendEntry writes e as the next line, durably (Storage.AppendLedger),
// or, when durable is false and the storage can (lazyLedger), without
// waiting for the disk: the next durable line carries it. On
// a failure the entry is forgotten and the storage cut back to the last good
// line; if even that fails (FileStorage refuses every call after a failed
// sync), the ledger refuses every later append (ErrLedger), since the
// storage may no longer match what the ledger holds in memory. Nothing is
// posted for a failed append, so a line that reached the storage anyway is
// at worst an answer that the next run finds without an outcome and posts
// as recorded.
func (l *Ledger) appendEntry(e *Entry, durable bool) error {
	if l.broken != nil {
		return l.broken
	}
	e.Seq, e.Prev = l.state.seq+1, hex.EncodeToString(l.state.last)
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%w: encoding entry: %v", ErrLedger, err)
	}
	if len(line) > maxLedgerLine {
		return fmt.Errorf("%w: entry of %d bytes is too long", ErrLedger, len(line))
	}
	if err := l.state.index(e); err != nil {
		return fmt.Errorf("%w: %v", ErrLedger, err)
	}
	sum := sha256.Sum256(line)
	ctx := context.Background()
	write := l.st.AppendLedger
	if lazy, ok := l.st.(lazyLedger); ok && !durable {
		write = lazy.appendLedgerLazy
	}
	if err := write(ctx, append(line, '\n')); err != nil {
		l.unindex(e)
		if terr := l.st.TruncateLedger(ctx, l.size); terr != nil {
			l.broken = fmt.Errorf("%w: a failed write could not be undone: %v", ErrLedger, terr)
		}
		return fmt.Errorf("%w: writing: %v", ErrLedger, err)
	}
	l.size += int64(len(line)) + 1
	l.state.seq, l.state.last = e.Seq, sum[:]
	return nil
}

// unindex undoes index for an entry that was not written.
func (l *Ledger) unindex(e *Entry) {
	s := &l.state
	switch e.Type {
	case EntryAnswer:
		delete(s.answers, e.RequestID)
		if e.Kind == threshold.KindCreate {
			// A create's record id was new to the ledger, or the answer would
			// have been refused before; so forget it entirely.
			delete(s.creates, e.RecordID)
			delete(s.records, e.RecordID)
		}
	case EntryOutcome:
		delete(s.outcomes, e.RequestID)
	case EntryDevice:
		delete(s.devices, e.DeviceID)
	}
}

// AppendAnswer claims a request by writing its answer line, before the
// answer is posted. e.Type, Seq and Prev are set by the ledger. It fails
// with ErrAnswered if the ledger holds an answer to e.RequestID, with
// ErrRefused for a create whose record the ledger holds, and with ErrLedger
// for a malformed entry or a failed write (nothing may be posted then).
func (l *Ledger) AppendAnswer(e *Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.state.answers[e.RequestID]; ok {
		return fmt.Errorf("%w: %s", ErrAnswered, e.RequestID)
	}
	if e.Kind == threshold.KindCreate && l.state.creates[e.RecordID] {
		return fmt.Errorf("%w: the ledger already holds record %s", ErrRefused, e.RecordID)
	}
	e.Type = EntryAnswer
	return l.appendEntry(e, true)
}

// AppendOutcome records what the server said to the answer of requestID:
// OutcomeAccepted with the request's new state, or OutcomeRejected with the
// server's error code. ErrLedger if the request was never answered or the
// write fails.
//
// On a FileStorage the line is written but not synced: the next answer's
// sync (or Close) makes it durable. A crash of the machine before that may
// lose it, which costs nothing an answer needs: the answer itself was
// durable before it was posted, and an answer without an outcome is posted
// again as recorded if the request is still pending, never answered anew.
// This saves one of the two fsyncs per answer.
func (l *Ledger) AppendOutcome(requestID, outcome, state, code string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendEntry(&Entry{Type: EntryOutcome, At: at.UTC(), RequestID: requestID, Outcome: outcome, State: state, Error: code}, false)
}

// AppendDevice records device deviceID of the user with its signing key,
// as verified by this device itself (DESIGN.md, "Adding a device"): the
// device that joined by a transfer this device approved (requestID its
// add_device request), or the sender of this device's own transfer
// (requestID empty). ErrLedger for a malformed id or key, a device already
// recorded, or a failed write.
func (l *Ledger) AppendDevice(deviceID string, signingKey ed25519.PublicKey, requestID string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendEntry(&Entry{Type: EntryDevice, At: at.UTC(), RequestID: requestID, DeviceID: deviceID,
		SigningPublicKey: bytes.Clone(signingKey)}, true)
}

// Devices returns the signing keys of the devices the ledger records
// (AppendDevice), by device id.
func (l *Ledger) Devices() map[string]ed25519.PublicKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]ed25519.PublicKey, len(l.state.devices))
	for id, e := range l.state.devices {
		out[id] = bytes.Clone(e.SigningPublicKey)
	}
	return out
}

// Entries returns copies of every answer line and the latest outcome of
// each, and every device line, in no particular order: what VerifyHistory
// compares with the chain.
func (l *Ledger) Entries() []*Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*Entry, 0, len(l.state.answers)+len(l.state.outcomes)+len(l.state.devices))
	for _, m := range []map[string]*Entry{l.state.answers, l.state.outcomes, l.state.devices} {
		for _, e := range m {
			out = append(out, copyEntry(e))
		}
	}
	return out
}

// Answer returns a copy of the answer line of requestID and of its latest
// outcome line (nil if none), or ok false if the request was never answered.
func (l *Ledger) Answer(requestID string) (answer, outcome *Entry, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.state.answers[requestID]
	if !ok {
		return nil, nil, false
	}
	answer = copyEntry(a)
	if o := l.state.outcomes[requestID]; o != nil {
		outcome = copyEntry(o)
	}
	return answer, outcome, true
}

// Record returns the record recordID as the ledger knows it: as described by
// the latest create request the device approved for it. ok is false if the
// device never approved its creation.
func (l *Ledger) Record(recordID string) (RecordView, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.state.records[recordID]
	if !ok {
		return RecordView{}, false
	}
	r := *e.Record
	r.ContentSHA256 = bytes.Clone(r.ContentSHA256)
	return r, true
}

// HoldsRecord reports whether the ledger holds any create answer (approve
// or deny) for recordID.
func (l *Ledger) HoldsRecord(recordID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.creates[recordID]
}

// Close ends the ledger's use: later appends fail. It makes durable the
// outcome lines written since the last answer (AppendOutcome). A ledger
// from OpenLedger also closes its file (and releases its lock); one from
// OpenLedgerIn leaves its storage to the caller.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil && errors.Is(l.broken, errClosed) {
		return nil
	}
	var err error
	if lazy, ok := l.st.(lazyLedger); ok && l.broken == nil {
		err = lazy.flushLedger(context.Background())
	}
	l.broken = fmt.Errorf("%w: %w", ErrLedger, errClosed)
	if l.owned {
		err = errors.Join(err, l.st.Close())
	}
	return err
}

var errClosed = errors.New("closed")

func copyEntry(e *Entry) *Entry {
	c := *e
	if e.Record != nil {
		r := *e.Record
		r.ContentSHA256 = bytes.Clone(r.ContentSHA256)
		c.Record = &r
	}
	if e.Requester != nil {
		r := *e.Requester
		c.Requester = &r
	}
	if e.Response != nil {
		r := *e.Response
		c.Response = &r
	}
	c.StatementSHA256 = bytes.Clone(e.StatementSHA256)
	c.SigningPublicKey = bytes.Clone(e.SigningPublicKey)
	return &c
}

// Export returns the ledger's bytes (every complete line), for a transfer
// bundle: the new device imports them (ImportLedger, or ImportState with
// the lines), so that it knows the records already sealed and refuses them
// as new creates. Errors wrap ErrLedger.
func (l *Ledger) Export() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	data, err := l.st.ReadLedger(context.Background())
	if err != nil {
		return nil, err
	}
	if int64(len(data)) < l.size {
		return nil, fmt.Errorf("%w: the storage holds %d ledger bytes, the ledger wrote %d", ErrLedger, len(data), l.size)
	}
	return data[:l.size:l.size], nil
}

// ExportLedgerFile reads and checks the ledger at path without locking it
// (another process may hold it open) and returns its complete lines; an
// absent file is an empty ledger. Errors wrap ErrLedger.
func ExportLedgerFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedger, err)
	}
	defer f.Close()
	if err := checkPrivate(f, path); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxLedgerSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedger, err)
	}
	if len(data) > maxLedgerSize {
		return nil, fmt.Errorf("%w: ledger over the limit", ErrLedger)
	}
	good, err := newLedgerState(false).parse(data)
	if err != nil {
		return nil, err
	}
	return data[:good], nil
}

// ImportLedger writes data, a ledger exported by another device of the
// user, as a new ledger file at path (mode 0600, never replacing a file:
// ErrKeystoreExists). data must be complete lines whose chain verifies.
// Errors wrap ErrLedger. ImportState does the same for any Storage, with
// the pinned head.
func ImportLedger(path string, data []byte) error {
	good, err := newLedgerState(false).parse(data)
	if err != nil {
		return err
	}
	if good != int64(len(data)) {
		return fmt.Errorf("%w: the imported ledger ends in an incomplete line", ErrLedger)
	}
	return writeNewFile(path, data)
}
