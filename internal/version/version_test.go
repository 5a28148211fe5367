package version

import (
	"runtime/debug"
	"testing"
)

func TestFormat(t *testing.T) {
	rev := "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"
	for _, tc := range []struct {
		main     string
		settings []debug.BuildSetting
		want     string
	}{
		{"v1.2.0", nil, "v1.2.0"},
		{"", nil, "(devel)"},
		{"(devel)", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}, "(devel) 1a2b3c4d5e6f+dirty"},
		{"(devel)", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}, "(devel) 1a2b3c4d5e6f"},
		{"v0.0.0-20261203200000-1a2b3c4d5e6f", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}}, "v0.0.0-20261203200000-1a2b3c4d5e6f"},
		{"v1.0.0", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, "v1.0.0 abc"},
	} {
		bi := &debug.BuildInfo{Main: debug.Module{Version: tc.main}, Settings: tc.settings}
		if got := format(bi); got != tc.want {
			t.Errorf("format(%q, %v) = %q, want %q", tc.main, tc.settings, got, tc.want)
		}
	}
	if String() == "" {
		t.Error("empty version")
	}
}
