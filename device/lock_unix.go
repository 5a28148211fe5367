//go:build unix

package device

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f for as long as f is open,
// so that two agents never answer from the same ledger.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrLedgerLocked
	}
	if err != nil {
		return fmt.Errorf("%w: locking: %v", ErrLedger, err)
	}
	return nil
}

// lockFileWait takes an exclusive advisory lock on f, waiting for it, for
// as long as f is open (the pinned head's compare-and-swap).
func lockFileWait(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
