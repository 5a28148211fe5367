package device

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// MemoryStorage is a Storage in memory, for tests and for a device that
// must leave no trace. Close does not drop the data: the same value may be
// used again as if reopened.
type MemoryStorage struct {
	mu       sync.Mutex
	keystore []byte
	ledger   []byte
	head     []byte
}

// NewMemoryStorage returns an empty MemoryStorage.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{} }

// ReadKeystore returns a copy of the keystore blob.
func (m *MemoryStorage) ReadKeystore(ctx context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeystore, err)
	}
	if m.keystore == nil {
		return nil, fmt.Errorf("%w: %w", ErrKeystore, ErrNoKeystore)
	}
	return bytes.Clone(m.keystore), nil
}

// CreateKeystore keeps a copy of blob unless a keystore exists.
func (m *MemoryStorage) CreateKeystore(ctx context.Context, blob []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrKeystore, err)
	}
	if m.keystore != nil {
		return ErrKeystoreExists
	}
	m.keystore = append([]byte{}, blob...)
	return nil
}

// ReadLedger returns a copy of the ledger bytes.
func (m *MemoryStorage) ReadLedger(ctx context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLedger, err)
	}
	return append([]byte{}, m.ledger...), nil
}

// AppendLedger appends a copy of data.
func (m *MemoryStorage) AppendLedger(ctx context.Context, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrLedger, err)
	}
	if len(m.ledger)+len(data) > maxLedgerSize {
		return fmt.Errorf("%w: ledger over the limit", ErrLedger)
	}
	m.ledger = append(m.ledger, data...)
	return nil
}

// TruncateLedger cuts the ledger bytes.
func (m *MemoryStorage) TruncateLedger(ctx context.Context, size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrLedger, err)
	}
	if size < 0 || size > int64(len(m.ledger)) {
		return fmt.Errorf("%w: cannot cut a ledger of %d bytes to %d", ErrLedger, len(m.ledger), size)
	}
	m.ledger = m.ledger[:size:size]
	return nil
}

// ReadHead returns a copy of the head, nil if none.
func (m *MemoryStorage) ReadHead(ctx context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHead, err)
	}
	if m.head == nil {
		return nil, nil
	}
	return bytes.Clone(m.head), nil
}

// SwapHead compares and replaces the head.
func (m *MemoryStorage) SwapHead(ctx context.Context, old, next []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrHead, err)
	}
	if len(next) == 0 || len(next) > maxHeadSize {
		return fmt.Errorf("%w: a head of %d bytes", ErrHead, len(next))
	}
	if len(old) == 0 && m.head != nil || len(old) > 0 && !bytes.Equal(m.head, old) {
		return ErrHeadConflict
	}
	m.head = bytes.Clone(next)
	return nil
}

// Close does nothing: the data stays for the next use.
func (m *MemoryStorage) Close() error { return nil }
