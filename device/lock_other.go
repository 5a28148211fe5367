//go:build !unix

package device

import "os"

// lockFile is a no-op where flock(2) does not exist: there, run one agent
// per ledger.
func lockFile(*os.File) error { return nil }

// lockFileWait is a no-op where flock(2) does not exist: there, run one
// process per device storage.
func lockFileWait(*os.File) error { return nil }
