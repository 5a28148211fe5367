//go:build !unix

package bench

import (
	"errors"
	"time"
)

// processCPU is not available here: CPU figures are then not measured.
func processCPU() (time.Duration, error) {
	return 0, errors.New("process CPU time is not available on this system")
}

// flushDirty does nothing here.
func flushDirty() {}
