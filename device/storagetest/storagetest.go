// Package storagetest is the conformance check of device.Storage (DESIGN.md,
// "The user's device set"; issue 12, "The device core in WebAssembly"): one
// check that every implementation passes, run from a Go test (Run) and from
// inside WebAssembly in a browser (Check returns an error instead of failing
// a testing.T).
//
// It checks, through the device package's own use of a storage: a keystore
// is created once and never replaced (a second create is refused and the
// first one still opens), and a fresh storage has none; ledger lines survive
// a reopen; a torn last line (a crash during an append) is cut off exactly
// and appending goes on; an edited line is refused; the pinned head is
// swapped only from the head the caller names (compare-and-swap), survives a
// reopen, and a corrupted one is refused, never taken for "none"; the
// transfer export gives what was stored and the import refuses a non-empty
// target.
package storagetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

// Open opens the storage called name: the same name must give the same
// data each time (a reopen), different names independent storages, and each
// name must be empty the first time Check opens it. Check closes every
// storage it opens, and opens a name again only after closing it.
type Open func(ctx context.Context, name string) (device.Storage, error)

// The storage names Check uses.
const (
	NameMain   = "main"
	NameImport = "import"
)

// kdf keeps the check fast (also in a browser); the real parameters are
// the device package's business, not the storage's.
var kdf = device.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// Check runs every case against the storages open gives and returns nil if
// all pass, or the errors.Join of one error per failed case, each naming its
// case. Cases run in order on the same storages (later ones build on what
// earlier ones stored); a case whose setup fails is reported and the check
// goes on where it can.
func Check(ctx context.Context, open Open) error {
	c := &checker{ctx: ctx, open: open}
	c.run("fresh storage is empty", c.fresh)
	c.run("keystore is created once and never replaced", c.keystore)
	c.run("ledger lines survive a reopen", c.ledger)
	c.run("a torn last line is cut off exactly", c.tornTail)
	c.run("an edited ledger line is refused", c.editedLine)
	c.run("pinned head is a compare-and-swap", c.headSwap)
	c.run("a corrupted head is refused", c.corruptHead)
	c.run("export and import of the transfer state", c.transfer)
	return errors.Join(c.errs...)
}

type checker struct {
	ctx  context.Context
	open Open
	errs []error

	// What the cases stored, for the later ones.
	answers []*device.Entry
	pinned  *device.AuditHead
}

func (c *checker) run(name string, f func() error) {
	if err := f(); err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", name, err))
	}
}

// with opens name, runs f on it and closes it.
func (c *checker) with(name string, f func(s device.Storage) error) error {
	s, err := c.open(c.ctx, name)
	if err != nil {
		return fmt.Errorf("opening %q: %w", name, err)
	}
	err = f(s)
	if cerr := s.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %q: %w", name, cerr)
	}
	return err
}

func (c *checker) fresh() error {
	return c.with(NameMain, func(s device.Storage) error {
		var errs []error
		if _, err := s.ReadKeystore(c.ctx); !errors.Is(err, device.ErrNoKeystore) || !errors.Is(err, device.ErrKeystore) {
			errs = append(errs, fmt.Errorf("ReadKeystore = %v, want ErrKeystore and ErrNoKeystore", err))
		}
		if data, err := s.ReadLedger(c.ctx); err != nil || len(data) != 0 {
			errs = append(errs, fmt.Errorf("ReadLedger = %d bytes, %v; want none", len(data), err))
		}
		if data, err := s.ReadHead(c.ctx); err != nil || data != nil {
			errs = append(errs, fmt.Errorf("ReadHead = %q, %v; want nil", data, err))
		}
		if h, ok, err := device.ReadPinnedHead(c.ctx, s); err != nil || ok || h != nil {
			errs = append(errs, fmt.Errorf("ReadPinnedHead = %v, %v, %v; want none", h, ok, err))
		}
		return errors.Join(errs...)
	})
}

func (c *checker) keystore() error {
	first, err := newIdentity()
	if err != nil {
		return err
	}
	defer first.Destroy()
	second, err := newIdentity()
	if err != nil {
		return err
	}
	defer second.Destroy()
	pass := []byte("correct horse battery staple")
	err = c.with(NameMain, func(s device.Storage) error {
		if err := device.CreateKeystoreIn(c.ctx, s, pass, first, rand.Reader, kdf); err != nil {
			return fmt.Errorf("first create: %w", err)
		}
		if err := device.CreateKeystoreIn(c.ctx, s, pass, second, rand.Reader, kdf); !errors.Is(err, device.ErrKeystoreExists) {
			return fmt.Errorf("second create = %v, want ErrKeystoreExists", err)
		}
		if err := s.CreateKeystore(c.ctx, []byte("not a keystore")); !errors.Is(err, device.ErrKeystoreExists) {
			return fmt.Errorf("second raw create = %v, want ErrKeystoreExists", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.with(NameMain, func(s device.Storage) error {
		if _, err := device.OpenKeystoreIn(c.ctx, s, []byte("wrong passphrase")); !errors.Is(err, device.ErrPassphrase) {
			return fmt.Errorf("open with a wrong passphrase = %v, want ErrPassphrase", err)
		}
		id, err := device.OpenKeystoreIn(c.ctx, s, pass)
		if err != nil {
			return fmt.Errorf("open after reopen: %w", err)
		}
		defer id.Destroy()
		if id.DeviceID != first.DeviceID || !id.SigningKey.Equal(first.SigningKey) || !id.OPRFKey.Public().Equal(first.OPRFKey.Public()) {
			return errors.New("the keystore read back is not the first one created")
		}
		return nil
	})
}

func (c *checker) ledger() error {
	err := c.with(NameMain, func(s device.Storage) error {
		l, err := device.OpenLedgerIn(c.ctx, s)
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		defer l.Close()
		create, err := newAnswer(threshold.KindCreate, "", threshold.DecisionApprove)
		if err != nil {
			return err
		}
		if err := l.AppendAnswer(create); err != nil {
			return fmt.Errorf("append: %w", err)
		}
		if err := l.AppendOutcome(create.RequestID, device.OutcomeAccepted, "approved", "", entryTime); err != nil {
			return fmt.Errorf("append outcome: %w", err)
		}
		access, err := newAnswer(threshold.KindAccess, create.RecordID, threshold.DecisionDeny)
		if err != nil {
			return err
		}
		if err := l.AppendAnswer(access); err != nil {
			return fmt.Errorf("append: %w", err)
		}
		c.answers = append(c.answers, create, access)
		return nil
	})
	if err != nil {
		return err
	}
	return c.reopenClean("reopen")
}

// reopenClean opens the ledger of the main storage again and checks that it
// needs no repair and holds every answer stored.
func (c *checker) reopenClean(what string) error {
	return c.with(NameMain, func(s device.Storage) error {
		l, err := device.OpenLedgerIn(c.ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		defer l.Close()
		if l.Repaired() {
			return fmt.Errorf("%s: a clean ledger was reported repaired", what)
		}
		return c.wantAnswers(l)
	})
}

// wantAnswers checks that l holds every answer the cases appended, and
// refuses to answer them again.
func (c *checker) wantAnswers(l *device.Ledger) error {
	if len(c.answers) == 0 {
		return errors.New("no answers were stored by the earlier case")
	}
	for _, want := range c.answers {
		got, _, ok := l.Answer(want.RequestID)
		if !ok || got.RecordID != want.RecordID || got.Decision != want.Decision || got.Seq != want.Seq {
			return fmt.Errorf("answer %d to %s not read back as written", want.Seq, want.RequestID)
		}
		again := *want
		if err := l.AppendAnswer(&again); !errors.Is(err, device.ErrAnswered) {
			return fmt.Errorf("a second answer to %s after reopen = %v, want ErrAnswered", want.RequestID, err)
		}
	}
	if !l.HoldsRecord(c.answers[0].RecordID) {
		return errors.New("the created record is not held after reopen")
	}
	return nil
}

func (c *checker) tornTail() error {
	var whole []byte
	err := c.with(NameMain, func(s device.Storage) error {
		var err error
		if whole, err = s.ReadLedger(c.ctx); err != nil {
			return err
		}
		if len(whole) == 0 || whole[len(whole)-1] != '\n' {
			return errors.New("the stored ledger does not end in a complete line")
		}
		// What a crash in the middle of an append leaves.
		return s.AppendLedger(c.ctx, []byte(`{"seq":4,"prev":"ab`))
	})
	if err != nil {
		return err
	}
	err = c.with(NameMain, func(s device.Storage) error {
		if entries, err := device.ReadLedgerIn(c.ctx, s); err != nil || len(entries) != 3 {
			return fmt.Errorf("ReadLedgerIn with a torn line: %d entries, %v; want 3", len(entries), err)
		}
		l, err := device.OpenLedgerIn(c.ctx, s)
		if err != nil {
			return fmt.Errorf("open with a torn last line: %w", err)
		}
		defer l.Close()
		if !l.Repaired() {
			return errors.New("the cut was not reported")
		}
		now, err := s.ReadLedger(c.ctx)
		if err != nil {
			return err
		}
		if !bytes.Equal(now, whole) {
			return fmt.Errorf("after the repair the ledger holds %d bytes, want exactly the %d before the torn line", len(now), len(whole))
		}
		e, err := newAnswer(threshold.KindCreate, "", threshold.DecisionApprove)
		if err != nil {
			return err
		}
		if err := l.AppendAnswer(e); err != nil {
			return fmt.Errorf("append after the repair: %w", err)
		}
		c.answers = append(c.answers, e)
		return nil
	})
	if err != nil {
		return err
	}
	return c.reopenClean("reopen after the repair")
}

func (c *checker) editedLine() error {
	return c.with(NameMain, func(s device.Storage) error {
		data, err := s.ReadLedger(c.ctx)
		if err != nil {
			return err
		}
		i := bytes.Index(data, []byte(`"decision":"deny"`))
		if i < 0 {
			return errors.New("the stored ledger holds no denial to edit")
		}
		edited := bytes.Clone(data)
		copy(edited[i:], `"decision":"DENY"`)
		if err := s.TruncateLedger(c.ctx, 0); err != nil {
			return err
		}
		if err := s.AppendLedger(c.ctx, edited); err != nil {
			return err
		}
		var errs []error
		if _, err := device.OpenLedgerIn(c.ctx, s); !errors.Is(err, device.ErrLedger) {
			errs = append(errs, fmt.Errorf("open of an edited ledger = %v, want ErrLedger", err))
		}
		if _, err := device.ExportState(c.ctx, s); !errors.Is(err, device.ErrLedger) {
			errs = append(errs, fmt.Errorf("export of an edited ledger = %v, want ErrLedger", err))
		}
		if err := s.TruncateLedger(c.ctx, int64(len(edited)+1)); !errors.Is(err, device.ErrLedger) {
			errs = append(errs, fmt.Errorf("truncating past the end = %v, want ErrLedger", err))
		}
		// Put the ledger back for the later cases.
		if err := s.TruncateLedger(c.ctx, 0); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if err := s.AppendLedger(c.ctx, data); err != nil {
			return errors.Join(append(errs, err)...)
		}
		return errors.Join(errs...)
	})
}

func (c *checker) headSwap() error {
	h1 := newHead(7, "first")
	h2 := newHead(9, "second")
	err := c.with(NameMain, func(s device.Storage) error {
		if err := device.PinHead(c.ctx, s, nil, h1); err != nil {
			return fmt.Errorf("first pin: %w", err)
		}
		if err := device.PinHead(c.ctx, s, nil, h2); !errors.Is(err, device.ErrHeadConflict) {
			return fmt.Errorf("pin over an existing head as if none = %v, want ErrHeadConflict", err)
		}
		stale := newHead(7, "stale") // same seq, another hash
		if err := device.PinHead(c.ctx, s, &stale, h2); !errors.Is(err, device.ErrHeadConflict) {
			return fmt.Errorf("pin from a head that is not the pinned one = %v, want ErrHeadConflict", err)
		}
		if err := s.SwapHead(c.ctx, nil, nil); !errors.Is(err, device.ErrHead) {
			return fmt.Errorf("swapping in an empty head = %v, want ErrHead", err)
		}
		if got, ok, err := device.ReadPinnedHead(c.ctx, s); err != nil || !ok || !got.Equal(h1) {
			return fmt.Errorf("after refused swaps the head is %v, %v, %v; want %v", got, ok, err, h1)
		}
		if err := device.PinHead(c.ctx, s, &h1, h2); err != nil {
			return fmt.Errorf("pin from the pinned head: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.with(NameMain, func(s device.Storage) error {
		got, ok, err := device.ReadPinnedHead(c.ctx, s)
		if err != nil || !ok || !got.Equal(h2) {
			return fmt.Errorf("after reopen the head is %v, %v, %v; want %v", got, ok, err, h2)
		}
		if err := device.PinHead(c.ctx, s, &h1, newHead(10, "third")); !errors.Is(err, device.ErrHeadConflict) {
			return fmt.Errorf("pin from the old head after reopen = %v, want ErrHeadConflict", err)
		}
		c.pinned = &h2
		return nil
	})
}

func (c *checker) corruptHead() error {
	if c.pinned == nil {
		return errors.New("no head was pinned by the earlier case")
	}
	return c.with(NameMain, func(s device.Storage) error {
		good, err := device.EncodeHead(*c.pinned)
		if err != nil {
			return err
		}
		bad := bytes.Clone(good)
		bad[len(bad)-3] = 'G' // a hex digit of the hash is no longer one
		var errs []error
		for _, corrupt := range [][]byte{bad, good[:len(good)-1], []byte(`{"version":1,"seq":9}`), []byte("garbage")} {
			cur, err := s.ReadHead(c.ctx)
			if err != nil {
				return err
			}
			if err := s.SwapHead(c.ctx, cur, corrupt); err != nil {
				return fmt.Errorf("storing a corrupted head: %w", err)
			}
			if raw, err := s.ReadHead(c.ctx); err != nil || !bytes.Equal(raw, corrupt) {
				errs = append(errs, fmt.Errorf("ReadHead = %q, %v; want the bytes stored", raw, err))
			}
			if h, _, err := device.ReadPinnedHead(c.ctx, s); !errors.Is(err, device.ErrHead) {
				errs = append(errs, fmt.Errorf("ReadPinnedHead of %q = %v, %v; want ErrHead", corrupt, h, err))
			}
			if _, err := device.ExportState(c.ctx, s); !errors.Is(err, device.ErrHead) {
				errs = append(errs, fmt.Errorf("export with head %q = %v, want ErrHead", corrupt, err))
			}
		}
		// Put the good head back for the later cases.
		cur, err := s.ReadHead(c.ctx)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if err := s.SwapHead(c.ctx, cur, good); err != nil {
			return errors.Join(append(errs, err)...)
		}
		return errors.Join(errs...)
	})
}

func (c *checker) transfer() error {
	if c.pinned == nil || len(c.answers) == 0 {
		return errors.New("the earlier cases stored no head or ledger")
	}
	var state *device.State
	err := c.with(NameMain, func(s device.Storage) error {
		var err error
		if state, err = device.ExportState(c.ctx, s); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if state.Head == nil || !state.Head.Equal(*c.pinned) {
			return fmt.Errorf("exported head %v, want %v", state.Head, c.pinned)
		}
		if want := int(c.answers[len(c.answers)-1].Seq); len(state.Lines) != want {
			return fmt.Errorf("exported %d ledger lines, want %d", len(state.Lines), want)
		}
		l, err := device.OpenLedgerIn(c.ctx, s)
		if err != nil {
			return err
		}
		defer l.Close()
		fromLedger, err := l.ExportState(c.ctx)
		if err != nil {
			return fmt.Errorf("export from the open ledger: %w", err)
		}
		if len(fromLedger.Lines) != len(state.Lines) || !fromLedger.Head.Equal(*state.Head) {
			return errors.New("the open ledger exports another state than the storage")
		}
		if err := device.ImportState(c.ctx, s, state, userID); !errors.Is(err, device.ErrNotEmpty) {
			return fmt.Errorf("import into a non-empty storage = %v, want ErrNotEmpty", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.with(NameImport, func(s device.Storage) error {
		if err := device.ImportState(c.ctx, s, state, "usr_bbbbbbbbbbbbbbbbbbbbbbbbbb"); !errors.Is(err, device.ErrLedger) {
			return fmt.Errorf("import of another user's ledger = %v, want ErrLedger", err)
		}
		tampered := &device.State{Lines: append([][]byte{}, state.Lines...), Head: state.Head}
		tampered.Lines[0] = bytes.Replace(tampered.Lines[0], []byte(`"decision":"approve"`), []byte(`"decision":"deny"`), 1)
		if err := device.ImportState(c.ctx, s, tampered, userID); !errors.Is(err, device.ErrLedger) {
			return fmt.Errorf("import of an edited ledger = %v, want ErrLedger", err)
		}
		if data, err := s.ReadLedger(c.ctx); err != nil || len(data) != 0 {
			return fmt.Errorf("refused imports left %d ledger bytes (%v)", len(data), err)
		}
		if err := device.ImportState(c.ctx, s, state, userID); err != nil {
			return fmt.Errorf("import into an empty storage: %w", err)
		}
		l, err := device.OpenLedgerIn(c.ctx, s)
		if err != nil {
			return fmt.Errorf("open of the imported ledger: %w", err)
		}
		defer l.Close()
		if err := c.wantAnswers(l); err != nil {
			return fmt.Errorf("imported ledger: %w", err)
		}
		if h, ok, err := device.ReadPinnedHead(c.ctx, s); err != nil || !ok || !h.Equal(*c.pinned) {
			return fmt.Errorf("imported head %v, %v, %v; want %v", h, ok, err, c.pinned)
		}
		if err := device.ImportState(c.ctx, s, state, userID); !errors.Is(err, device.ErrNotEmpty) {
			return fmt.Errorf("a second import = %v, want ErrNotEmpty", err)
		}
		return nil
	})
}

const userID = "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"

var entryTime = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newAnswer(kind, recordID, decision string) (*device.Entry, error) {
	var err error
	if recordID == "" {
		if recordID, err = ids.NewRecord(rand.Reader, entryTime); err != nil {
			return nil, err
		}
	}
	reqID, err := ids.New(ids.Request, rand.Reader)
	if err != nil {
		return nil, err
	}
	e := &device.Entry{
		At: entryTime, RequestID: reqID, Kind: kind, UserID: userID, RecordID: recordID,
		Requester: &device.Requester{ID: "cli_aaaaaaaaaaaaaaaaaaaaaaaaaa", Name: "Clinic"},
		Purpose:   "checkup", Decision: decision, DecidedBy: device.DecidedByPolicy, ExpiresAt: entryTime.Add(5 * time.Minute),
		StatementSHA256: make([]byte, sha256.Size), Response: &device.Response{Decision: decision, Signature: make([]byte, ed25519.SignatureSize)},
	}
	if kind == threshold.KindCreate {
		sum := sha256.Sum256([]byte(recordID))
		e.Record = &device.RecordView{Title: "Blood test", ContentType: "application/pdf", Size: 1234, ContentSHA256: sum[:]}
	}
	return e, nil
}

// newHead returns a head at seq whose hash is derived from tag, so that
// two tags give two heads of the same seq.
func newHead(seq int64, tag string) device.AuditHead {
	h := sha256.Sum256(fmt.Appendf(nil, "storagetest head %d %s", seq, tag))
	return device.AuditHead{Seq: seq, Hash: h[:]}
}

func newIdentity() (*device.Identity, error) {
	k, err := oprf.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	did, err := ids.New(ids.Device, rand.Reader)
	if err != nil {
		return nil, err
	}
	uid, err := ids.New(ids.User, rand.Reader)
	if err != nil {
		return nil, err
	}
	return &device.Identity{DeviceID: did, UserID: uid, ServerURL: "https://assent.example",
		DeviceKeyID: threshold.DeviceKeyID(k.Public().Bytes()), OPRFKey: k, SigningKey: sk}, nil
}
