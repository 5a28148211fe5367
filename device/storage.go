package device

import (
	"context"
	"fmt"
)

// Storage is where a device keeps what it must not lose: the sealed keystore
// blob, the bytes of its ledger and its pinned audit head (DESIGN.md, "The
// user's device set": "The device watches"). It stores bytes only; every
// check of what they mean (the keystore's AEAD, the ledger's hash chain and
// its torn-tail repair, the head's strict decoding) is done above it, in this
// package, the same for every implementation.
//
// Methods take a context because some stores are asynchronous (IndexedDB in
// the browser). An implementation must be safe for concurrent use (the
// ledger appends while the audit check swaps the head), and each call is
// atomic with respect to the others. Implementations: FileStorage (files next to the
// keystore, for `assent device`), MemoryStorage (tests), and the browser's
// IndexedDB store (webapp/wasm). device/storagetest checks any of them.
type Storage interface {
	// ReadKeystore returns the sealed keystore blob exactly as created.
	// Errors: ErrKeystore wrapping ErrNoKeystore when none was created;
	// ErrKeystore for any other failure.
	ReadKeystore(ctx context.Context) ([]byte, error)
	// CreateKeystore stores blob as the keystore, durably, whole or not at
	// all. It never replaces one: ErrKeystoreExists if a keystore exists
	// (the stored one is unchanged); ErrKeystore on any other failure.
	CreateKeystore(ctx context.Context, blob []byte) error

	// ReadLedger returns every byte appended to the ledger so far and not
	// truncated (empty, not an error, if none). ErrLedger on failure.
	ReadLedger(ctx context.Context) ([]byte, error)
	// AppendLedger adds data at the end of the ledger and returns nil only
	// once it is durable. On an error any prefix of data may have been
	// stored; the caller cuts the ledger back with TruncateLedger (a crash
	// leaves such a prefix too, which the next reader sees). ErrLedger on
	// failure.
	AppendLedger(ctx context.Context, data []byte) error
	// TruncateLedger durably cuts the ledger to its first size bytes. A size
	// below 0 or above the ledger's length is refused with ErrLedger and
	// changes nothing.
	TruncateLedger(ctx context.Context, size int64) error

	// ReadHead returns the pinned audit head's encoding exactly as last
	// swapped in, or nil and no error if none was ever pinned. ErrHead on
	// failure.
	ReadHead(ctx context.Context) ([]byte, error)
	// SwapHead atomically replaces the pinned head by next if the stored one
	// is exactly old (nil or empty old: only if none is pinned); otherwise it
	// fails with ErrHeadConflict and changes nothing. next must not be empty
	// (ErrHead). ErrHead on any other failure, after which the stored head is
	// old or next, never a mix.
	SwapHead(ctx context.Context, old, next []byte) error

	// Close releases what the storage holds (handles, locks); the data
	// stays. Further calls fail.
	Close() error
}

// lazyLedger is a Storage that can also append to the ledger without
// waiting for durability, for lines whose loss in a crash of the machine
// (not of the process: the bytes are written) is harmless: an answer's
// outcome, which the next run learns again by posting the recorded answer
// once more (Agent.HandleRequest), and which VerifyHistory only uses to
// look for accepted answers missing from the chain. Such a line becomes
// durable with the next AppendLedger or TruncateLedger (one sync carries
// every byte written before it, in order, so no durable line ever follows
// a lost one), with flushLedger or Close, or when the kernel writes it back
// on its own. Storages without it append every line durably.
type lazyLedger interface {
	appendLedgerLazy(ctx context.Context, data []byte) error
	// flushLedger makes every byte appended so far durable.
	flushLedger(ctx context.Context) error
}

// maxLedgerSize bounds the ledger bytes a Storage returns and the ledger
// accepts, so that a damaged store cannot make the device allocate without
// limit.
const maxLedgerSize = 1 << 30

// maxHeadSize bounds a stored head's encoding.
const maxHeadSize = 1 << 10

// State is what a device hands over on transfer besides kD (DESIGN.md,
// "Adding a device (transfer)"): its ledger, line by line as stored (so its
// hash chain stays checkable), and its pinned audit head.
type State struct {
	// Lines are the ledger's complete lines in order, each without its
	// newline.
	Lines [][]byte
	// Head is the pinned audit head; nil if the device never pinned one.
	Head *AuditHead
}

// ExportState reads the ledger and the pinned head from s for a transfer
// bundle. Use Ledger.ExportState instead while a Ledger is open on s. The
// ledger's chain is checked; an incomplete last line is left out (not
// repaired: the storage is only read). Errors: ErrLedger, ErrHead.
func ExportState(ctx context.Context, s Storage) (*State, error) {
	data, err := s.ReadLedger(ctx)
	if err != nil {
		return nil, err
	}
	st := newLedgerState(false)
	good, err := st.parse(data)
	if err != nil {
		return nil, err
	}
	head, _, err := ReadPinnedHead(ctx, s)
	if err != nil {
		return nil, err
	}
	return &State{Lines: splitLines(data[:good]), Head: head}, nil
}

// ExportState is the package's ExportState for the storage this ledger is
// open on, with the ledger's own lock held so that no append is half seen.
func (l *Ledger) ExportState(ctx context.Context) (*State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return nil, l.broken
	}
	data, err := l.st.ReadLedger(ctx)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) < l.size {
		return nil, fmt.Errorf("%w: the storage holds %d ledger bytes, the ledger wrote %d", ErrLedger, len(data), l.size)
	}
	data = data[:l.size]
	if _, err := newLedgerState(false).parse(data); err != nil {
		return nil, err
	}
	head, _, err := ReadPinnedHead(ctx, l.st)
	if err != nil {
		return nil, err
	}
	return &State{Lines: splitLines(data), Head: head}, nil
}

// ImportState writes a transferred state into s, which must hold neither a
// ledger byte nor a pinned head (ErrNotEmpty, nothing written). The lines
// must form a ledger whose every answer is for userID (ErrLedger otherwise,
// nothing written); the head, if any, must be well-formed (ErrHead). The
// ledger is written first, in one append, then the head; a failure between
// the two leaves a non-empty storage, which a retry refuses: start again
// from an empty one.
func ImportState(ctx context.Context, s Storage, st *State, userID string) error {
	if st == nil {
		return fmt.Errorf("%w: no state to import", ErrLedger)
	}
	var data []byte
	for _, line := range st.Lines {
		data = append(append(data, line...), '\n')
	}
	ls := newLedgerState(true)
	good, err := ls.parse(data)
	if err != nil {
		return err
	}
	if good != int64(len(data)) {
		return fmt.Errorf("%w: a transferred ledger line holds a newline", ErrLedger)
	}
	for _, e := range ls.entries {
		if e.Type == EntryAnswer && e.UserID != userID {
			return fmt.Errorf("%w: transferred ledger line %d answers for user %.40q, not %s", ErrLedger, e.Seq, e.UserID, userID)
		}
	}
	var head []byte
	if st.Head != nil {
		if head, err = EncodeHead(*st.Head); err != nil {
			return err
		}
	}
	existing, err := s.ReadLedger(ctx)
	if err != nil {
		return err
	}
	pinned, err := s.ReadHead(ctx)
	if err != nil {
		return err
	}
	if len(existing) > 0 || len(pinned) > 0 {
		return ErrNotEmpty
	}
	if len(data) > 0 {
		if err := s.AppendLedger(ctx, data); err != nil {
			return err
		}
	}
	if head != nil {
		if err := s.SwapHead(ctx, nil, head); err != nil {
			return err
		}
	}
	return nil
}

// splitLines returns the newline-terminated lines of data, without their
// newlines.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	for len(data) > 0 {
		i := 0
		for data[i] != '\n' {
			i++
		}
		lines = append(lines, data[:i:i])
		data = data[i+1:]
	}
	return lines
}
