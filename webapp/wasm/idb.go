//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/jsutil"
)

// IndexedDB layout: one database per app origin, version 1, with two
// object stores: "kv" holds the keystore blob under "keystore" and the
// pinned audit head under "head"; "ledger" holds the ledger's appended
// chunks in order under auto-incremented keys. Every method is one
// IndexedDB transaction, with strict durability, so each appears whole or
// not at all.
const (
	idbVersion   = 1
	storeKV      = "kv"
	storeLedger  = "ledger"
	keyKeystore  = "keystore"
	keyHead      = "head"
	txReadOnly   = "readonly"
	txReadWrite  = "readwrite"
	maxIDBLedger = 1 << 30
)

// IDB is device.Storage on the browser's IndexedDB.
type IDB struct {
	mu     sync.Mutex
	db     js.Value
	name   string
	closed bool
}

var errIDBClosed = errors.New("the storage is closed")

// OpenIDB opens (creating it if missing) the IndexedDB database name.
func OpenIDB(ctx context.Context, name string) (*IDB, error) {
	idb := js.Global().Get("indexedDB")
	if !idb.Truthy() {
		return nil, errors.New("this browser has no IndexedDB (a private window may disable it)")
	}
	req := idb.Call("open", name, idbVersion)
	done := make(chan error, 1)
	upgrade := js.FuncOf(func(js.Value, []js.Value) any {
		db := req.Get("result")
		names := db.Get("objectStoreNames")
		if !names.Call("contains", storeKV).Bool() {
			db.Call("createObjectStore", storeKV)
		}
		if !names.Call("contains", storeLedger).Bool() {
			db.Call("createObjectStore", storeLedger, map[string]any{"autoIncrement": true})
		}
		return nil
	})
	ok := js.FuncOf(func(js.Value, []js.Value) any { jsutil.SendOnce(done, nil); return nil })
	fail := js.FuncOf(func(js.Value, []js.Value) any { jsutil.SendOnce(done, reqError(req)); return nil })
	// Blocked (another tab holds an older version open) is not an end: the
	// open goes on once that tab closes; ctx bounds the wait.
	req.Set("onupgradeneeded", upgrade)
	req.Set("onsuccess", ok)
	req.Set("onerror", fail)
	err, cerr := jsutil.Settle(ctx, done, upgrade, ok, fail)
	if cerr != nil {
		return nil, fmt.Errorf("opening IndexedDB (is the app open in another tab?): %w", cerr)
	}
	if err != nil {
		return nil, fmt.Errorf("opening IndexedDB: %w", err)
	}
	return &IDB{db: req.Get("result"), name: name}, nil
}

// DeleteIDB deletes the database name (the self-test's scratch database).
func DeleteIDB(ctx context.Context, name string) error {
	req := js.Global().Get("indexedDB").Call("deleteDatabase", name)
	done := make(chan error, 1)
	ok := js.FuncOf(func(js.Value, []js.Value) any { jsutil.SendOnce(done, nil); return nil })
	fail := js.FuncOf(func(js.Value, []js.Value) any { jsutil.SendOnce(done, reqError(req)); return nil })
	req.Set("onsuccess", ok)
	req.Set("onerror", fail)
	err, cerr := jsutil.Settle(ctx, done, ok, fail)
	if cerr != nil {
		return cerr
	}
	return err
}

func reqError(req js.Value) error {
	if e := req.Get("error"); e.Truthy() {
		return jsutil.Error(e)
	}
	return errors.New("IndexedDB request failed")
}

// txn runs one transaction over stores: body is called at once (not in a
// callback) to issue the requests, whose callbacks must not block; txn
// returns when the transaction completed (nil), or its error. A body that
// calls abort(err) makes txn return err.
func (s *IDB) txn(ctx context.Context, mode string, body func(tx js.Value, abort func(error), keep func(js.Func)), stores ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errIDBClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var funcs []js.Func
	keep := func(f js.Func) { funcs = append(funcs, f) }
	names := make([]any, len(stores))
	for i, n := range stores {
		names[i] = n
	}
	var tx js.Value
	if err := catch(func() {
		tx = s.db.Call("transaction", names, mode, map[string]any{"durability": "strict"})
	}); err != nil {
		return err
	}
	done := make(chan error, 1)
	var aborted error
	abort := func(err error) {
		if aborted == nil {
			aborted = err
			tx.Call("abort")
		}
	}
	complete := js.FuncOf(func(js.Value, []js.Value) any { jsutil.SendOnce(done, nil); return nil })
	failed := js.FuncOf(func(js.Value, []js.Value) any {
		switch e := tx.Get("error"); {
		case aborted != nil:
			jsutil.SendOnce(done, aborted)
		case e.Truthy():
			jsutil.SendOnce(done, jsutil.Error(e))
		default:
			jsutil.SendOnce(done, errors.New("IndexedDB transaction aborted"))
		}
		return nil
	})
	keep(complete)
	keep(failed)
	tx.Set("oncomplete", complete)
	tx.Set("onabort", failed)
	if err := catch(func() { body(tx, abort, keep) }); err != nil {
		abort(err)
	}
	// The transaction ends on its own even after ctx; its callbacks stay
	// until then.
	err, cerr := jsutil.Settle(ctx, done, funcs...)
	if cerr != nil {
		return cerr
	}
	return err
}

// catch runs f and turns a thrown JavaScript exception into an error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = jsutil.Error(je.Value)
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// onSuccess sets req's success callback.
func onSuccess(req js.Value, keep func(js.Func), f func(result js.Value)) {
	fn := js.FuncOf(func(js.Value, []js.Value) any { f(req.Get("result")); return nil })
	keep(fn)
	req.Set("onsuccess", fn)
}

func (s *IDB) get(ctx context.Context, sentinel error, key string) ([]byte, error) {
	var out []byte
	var bad error
	err := s.txn(ctx, txReadOnly, func(tx js.Value, abort func(error), keep func(js.Func)) {
		req := tx.Call("objectStore", storeKV).Call("get", key)
		onSuccess(req, keep, func(v js.Value) {
			if v.IsUndefined() {
				return
			}
			if out, bad = jsutil.Bytes(v); bad != nil {
				abort(bad)
			}
		})
	}, storeKV)
	if err != nil {
		return nil, fmt.Errorf("%w: IndexedDB: %v", sentinel, err)
	}
	return out, nil
}

// ReadKeystore implements device.Storage.
func (s *IDB) ReadKeystore(ctx context.Context) ([]byte, error) {
	b, err := s.get(ctx, device.ErrKeystore, keyKeystore)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("%w: %w", device.ErrKeystore, device.ErrNoKeystore)
	}
	return b, nil
}

// CreateKeystore implements device.Storage: IndexedDB's add fails when the
// key exists, inside the one transaction.
func (s *IDB) CreateKeystore(ctx context.Context, blob []byte) error {
	exists := false
	err := s.txn(ctx, txReadWrite, func(tx js.Value, abort func(error), keep func(js.Func)) {
		st := tx.Call("objectStore", storeKV)
		req := st.Call("get", keyKeystore)
		onSuccess(req, keep, func(v js.Value) {
			if !v.IsUndefined() {
				exists = true
				abort(device.ErrKeystoreExists)
				return
			}
			st.Call("add", jsutil.Uint8Array(blob), keyKeystore)
		})
	}, storeKV)
	switch {
	case exists:
		return fmt.Errorf("%w: in this browser's storage", device.ErrKeystoreExists)
	case err != nil:
		return fmt.Errorf("%w: IndexedDB: %v", device.ErrKeystore, err)
	}
	return nil
}

// ledgerChunks reads every ledger chunk with its key, in key order.
func ledgerChunks(tx js.Value, keep func(js.Func), abort func(error), done func(keys []js.Value, data []byte)) {
	st := tx.Call("objectStore", storeLedger)
	var keys []js.Value
	var data []byte
	req := st.Call("openCursor")
	onSuccess(req, keep, func(cur js.Value) {
		if cur.IsNull() || cur.IsUndefined() {
			done(keys, data)
			return
		}
		b, err := jsutil.Bytes(cur.Get("value"))
		if err != nil {
			abort(fmt.Errorf("a ledger chunk is not bytes"))
			return
		}
		if len(data)+len(b) > maxIDBLedger {
			abort(fmt.Errorf("the ledger is over %d bytes", maxIDBLedger))
			return
		}
		keys = append(keys, cur.Get("key"))
		data = append(data, b...)
		cur.Call("continue")
	})
}

// ReadLedger implements device.Storage.
func (s *IDB) ReadLedger(ctx context.Context) ([]byte, error) {
	var out []byte
	err := s.txn(ctx, txReadOnly, func(tx js.Value, abort func(error), keep func(js.Func)) {
		ledgerChunks(tx, keep, abort, func(_ []js.Value, data []byte) { out = data })
	}, storeLedger)
	if err != nil {
		return nil, fmt.Errorf("%w: IndexedDB: %v", device.ErrLedger, err)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// AppendLedger implements device.Storage: one chunk, added in one
// transaction.
func (s *IDB) AppendLedger(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	err := s.txn(ctx, txReadWrite, func(tx js.Value, _ func(error), _ func(js.Func)) {
		tx.Call("objectStore", storeLedger).Call("add", jsutil.Uint8Array(data))
	}, storeLedger)
	if err != nil {
		return fmt.Errorf("%w: IndexedDB: %v", device.ErrLedger, err)
	}
	return nil
}

// TruncateLedger implements device.Storage: the chunks past size are
// deleted and the one across it rewritten, in one transaction.
func (s *IDB) TruncateLedger(ctx context.Context, size int64) error {
	var bad error
	err := s.txn(ctx, txReadWrite, func(tx js.Value, abort func(error), keep func(js.Func)) {
		st := tx.Call("objectStore", storeLedger)
		ledgerChunks(tx, keep, abort, func(_ []js.Value, data []byte) {
			if size < 0 || size > int64(len(data)) {
				bad = fmt.Errorf("%w: cannot cut a ledger of %d bytes to %d", device.ErrLedger, len(data), size)
				abort(bad)
				return
			}
			if size == int64(len(data)) {
				return
			}
			st.Call("clear")
			if size > 0 {
				st.Call("add", jsutil.Uint8Array(data[:size]))
			}
		})
	}, storeLedger)
	if bad != nil {
		return bad
	}
	if err != nil {
		return fmt.Errorf("%w: IndexedDB: %v", device.ErrLedger, err)
	}
	return nil
}

// ReadHead implements device.Storage.
func (s *IDB) ReadHead(ctx context.Context) ([]byte, error) {
	return s.get(ctx, device.ErrHead, keyHead)
}

// SwapHead implements device.Storage: the compare and the write are one
// transaction.
func (s *IDB) SwapHead(ctx context.Context, old, next []byte) error {
	if len(next) == 0 {
		return fmt.Errorf("%w: an empty head", device.ErrHead)
	}
	conflict := false
	err := s.txn(ctx, txReadWrite, func(tx js.Value, abort func(error), keep func(js.Func)) {
		st := tx.Call("objectStore", storeKV)
		req := st.Call("get", keyHead)
		onSuccess(req, keep, func(v js.Value) {
			var cur []byte
			if !v.IsUndefined() {
				var err error
				if cur, err = jsutil.Bytes(v); err != nil {
					abort(err)
					return
				}
			}
			if !bytes.Equal(cur, old) || (cur == nil) != (len(old) == 0) {
				conflict = true
				abort(device.ErrHeadConflict)
				return
			}
			st.Call("put", jsutil.Uint8Array(next), keyHead)
		})
	}, storeKV)
	switch {
	case conflict:
		return device.ErrHeadConflict
	case err != nil:
		return fmt.Errorf("%w: IndexedDB: %v", device.ErrHead, err)
	}
	return nil
}

// Close implements device.Storage.
func (s *IDB) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errIDBClosed
	}
	s.closed = true
	s.db.Call("close")
	return nil
}

// getKV reads a key of the "kv" store that is neither the keystore nor the
// head (the app's own metadata); nil if absent.
func (s *IDB) getKV(ctx context.Context, key string) ([]byte, error) {
	return s.get(ctx, errIDBMeta, key)
}

// putKV writes a key of the "kv" store that is neither the keystore nor
// the head.
func (s *IDB) putKV(ctx context.Context, key string, value []byte) error {
	if key == keyKeystore || key == keyHead {
		return fmt.Errorf("%w: %s is the storage's own", errIDBMeta, key)
	}
	err := s.txn(ctx, txReadWrite, func(tx js.Value, _ func(error), _ func(js.Func)) {
		tx.Call("objectStore", storeKV).Call("put", jsutil.Uint8Array(value), key)
	}, storeKV)
	if err != nil {
		return fmt.Errorf("%w: IndexedDB: %v", errIDBMeta, err)
	}
	return nil
}

var errIDBMeta = errors.New("the app's metadata in IndexedDB is unusable")
