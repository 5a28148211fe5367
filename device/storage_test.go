package device_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/device/storagetest"
)

func fileOpener(t *testing.T) storagetest.Open {
	dir := t.TempDir()
	return func(_ context.Context, name string) (device.Storage, error) {
		return device.NewFileStorage(device.DefaultFilePaths(filepath.Join(dir, name, "device.key"))), nil
	}
}

func memoryOpener() storagetest.Open {
	stores := map[string]*device.MemoryStorage{}
	return func(_ context.Context, name string) (device.Storage, error) {
		if stores[name] == nil {
			stores[name] = device.NewMemoryStorage()
		}
		return stores[name], nil
	}
}

func TestFileStorageConformance(t *testing.T) { storagetest.Run(t, fileOpener(t)) }

func TestMemoryStorageConformance(t *testing.T) { storagetest.Run(t, memoryOpener()) }

// careless is a storage with the faults the conformance check must catch:
// it replaces a keystore, swaps the head without comparing, and (with
// forget) loses everything on reopen.
type careless struct {
	*device.MemoryStorage
}

func (c careless) CreateKeystore(ctx context.Context, blob []byte) error {
	err := c.MemoryStorage.CreateKeystore(ctx, blob)
	if errors.Is(err, device.ErrKeystoreExists) {
		return nil // and keeps the old one: a silent refusal is a fault too
	}
	return err
}

func (c careless) SwapHead(ctx context.Context, _, next []byte) error {
	cur, err := c.MemoryStorage.ReadHead(ctx)
	if err != nil {
		return err
	}
	return c.MemoryStorage.SwapHead(ctx, cur, next)
}

// TestConformanceCatchesFaults: the check is not vacuous; it names each
// case a faulty storage fails.
func TestConformanceCatchesFaults(t *testing.T) {
	stores := map[string]*device.MemoryStorage{}
	err := storagetest.Check(context.Background(), func(_ context.Context, name string) (device.Storage, error) {
		if stores[name] == nil {
			stores[name] = device.NewMemoryStorage()
		}
		return careless{stores[name]}, nil
	})
	if err == nil {
		t.Fatal("a storage that replaces keystores and swaps heads blindly passed")
	}
	for _, want := range []string{"keystore is created once", "pinned head is a compare-and-swap"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the check's error does not name %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "torn last line") {
		t.Errorf("the check failed a case the storage does right:\n%v", err)
	}

	forgetful := storagetest.Check(context.Background(), func(context.Context, string) (device.Storage, error) {
		return device.NewMemoryStorage(), nil
	})
	if forgetful == nil || !strings.Contains(forgetful.Error(), "survive a reopen") {
		t.Errorf("a storage that forgets on reopen: %v", forgetful)
	}
}

func TestFileStorageLayout(t *testing.T) {
	dir := t.TempDir()
	p := device.DefaultFilePaths(filepath.Join(dir, "sub", "device.key"))
	if p.Ledger != filepath.Join(dir, "sub", "device.ledger") || p.Head != filepath.Join(dir, "sub", "device.head") {
		t.Fatalf("layout %+v", p)
	}
	ctx := context.Background()
	s := device.NewFileStorage(p)
	if err := device.PinHead(ctx, s, nil, device.AuditHead{Seq: 1, Hash: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLedger(ctx, []byte("x\n")); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p.Ledger, p.Head} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", path, st.Mode().Perm())
		}
	}
	if st, err := os.Stat(filepath.Dir(p.Head)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v, %v", st, err)
	}

	other := device.NewFileStorage(p)
	if _, err := other.ReadLedger(ctx); !errors.Is(err, device.ErrLedgerLocked) {
		t.Errorf("a second holder of the ledger: %v, want ErrLedgerLocked", err)
	}
	// The head and the keystore need no ledger lock.
	if _, ok, err := device.ReadPinnedHead(ctx, other); err != nil || !ok {
		t.Errorf("head read by a second storage: %v, %v", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadLedger(ctx); !errors.Is(err, device.ErrLedger) {
		t.Errorf("ledger read after Close: %v", err)
	}
	if _, err := other.ReadLedger(ctx); err != nil {
		t.Errorf("the lock was not released by Close: %v", err)
	}
	other.Close()

	if err := os.Chmod(p.Head, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := device.ReadPinnedHead(ctx, device.NewFileStorage(p)); !errors.Is(err, device.ErrHead) {
		t.Errorf("a world-readable head: %v, want ErrHead", err)
	}
	if _, err := device.NewFileStorage(device.FilePaths{}).ReadHead(ctx); !errors.Is(err, device.ErrHead) {
		t.Errorf("a storage without a head file: %v, want ErrHead", err)
	}
	if _, err := device.NewFileStorage(p).ReadKeystore(ctx); !errors.Is(err, device.ErrNoKeystore) {
		t.Errorf("no keystore file: %v, want ErrNoKeystore", err)
	}
}

// TestLedgerFileExportImport: the file ledger's export (open or not) and
// import as a new file, as the transfer uses them.
func TestLedgerFileExportImport(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.ledger")
	if data, err := device.ExportLedgerFile(src); err != nil || data != nil {
		t.Fatalf("absent ledger: %q, %v", data, err)
	}
	l, err := device.OpenLedger(src)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// A device line is enough to have a chain to carry.
	if err := l.AppendDevice("dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", make([]byte, 32), "", time.Now()); err != nil {
		t.Fatal(err)
	}
	open, err := l.Export()
	if err != nil {
		t.Fatal(err)
	}
	closed, err := device.ExportLedgerFile(src) // while the ledger is open and locked
	if err != nil || !bytes.Equal(open, closed) || len(open) == 0 {
		t.Fatalf("exports differ: %q / %q, %v", open, closed, err)
	}
	dst := filepath.Join(dir, "b.ledger")
	if err := device.ImportLedger(dst, open); err != nil {
		t.Fatal(err)
	}
	if err := device.ImportLedger(dst, open); !errors.Is(err, device.ErrKeystoreExists) {
		t.Errorf("import over an existing file: %v", err)
	}
	if err := device.ImportLedger(filepath.Join(dir, "c.ledger"), open[:len(open)-1]); !errors.Is(err, device.ErrLedger) {
		t.Errorf("import of a torn ledger: %v", err)
	}
	b, err := device.OpenLedger(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(b.Devices()) != 1 {
		t.Errorf("imported ledger holds %d devices", len(b.Devices()))
	}
}
