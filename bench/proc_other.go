//go:build !linux

package bench

import "errors"

var errNoProc = errors.New("resident set size is measured on Linux only")

func selfRSS() (cur, peak uint64, err error) { return 0, 0, errNoProc }

func resetPeakRSS() error { return errNoProc }
