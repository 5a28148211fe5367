// Package version reports which build of Assent is running, from the
// module and VCS information the Go toolchain stamps into the binary.
package version

import (
	"runtime/debug"
	"strings"
)

// String returns the module version, and the VCS revision (12 hex digits,
// "+dirty" when built from a modified tree) when the build has one:
// "v1.2.0", "(devel) 1a2b3c4d5e6f+dirty". It is "unknown" for a binary
// without build information.
func String() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return format(bi)
}

func format(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" || strings.Contains(v, rev[:min(12, len(rev))]) {
		// A pseudo-version already names its revision.
		return v
	}
	rev = rev[:min(12, len(rev))]
	if dirty {
		rev += "+dirty"
	}
	return v + " " + rev
}
