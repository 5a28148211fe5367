package bench

import (
	"strings"
	"testing"
)

const pprofTop = `File: assent
Type: cpu
Duration: 10s, Total samples = 2s (20.00%)
Showing nodes accounting for 2s, 100% of 2s total
      flat  flat%   sum%        cum   cum%
     0.80s 40.00% 40.00%      0.80s 40.00%  internal/runtime/syscall/linux.Syscall6
     0.50s 25.00% 65.00%      0.90s 45.00%  modernc.org/sqlite/lib._sqlite3VdbeExec
     0.30s 15.00% 80.00%      0.30s 15.00%  github.com/bwesterb/go-ristretto/edwards25519.(*FieldElement).Mul
     0.20s 10.00% 90.00%      0.20s 10.00%  runtime.memmove
     0.10s  5.00% 95.00%      1.00s 50.00%  github.com/assent-dev/assent/server.(*Server).seal
     0.10s  5.00%   100%      0.10s  5.00%  slices.SortFunc[go.shape.[]int, go.shape.int]
`

func TestParseTop(t *testing.T) {
	funcs, err := parseTop(pprofTop)
	if err != nil {
		t.Fatal(err)
	}
	if len(funcs) != 6 {
		t.Fatalf("%d functions, want 6", len(funcs))
	}
	if f := funcs[5]; f.Name != "slices.SortFunc[go.shape.[]int, go.shape.int]" || f.Percent != 5 {
		t.Errorf("last function %+v", f)
	}
	want := []string{
		"system calls (kernel time of fsync, file and network I/O)",
		"SQLite engine (modernc.org/sqlite, pure Go)",
		"cryptography (CIRCL, go-ristretto, Go crypto)",
		"Go runtime (GC, scheduler, memory, locks)",
		"Assent code",
		"other",
	}
	for i, f := range funcs {
		got := "other"
		if c := category(f.Name); c < len(profileCategories) {
			got = profileCategories[c].name
		}
		if got != want[i] {
			t.Errorf("%s: category %q, want %q", f.Name, got, want[i])
		}
	}
	if _, err := parseTop("File: x\nno table here\n"); err == nil {
		t.Error("parseTop accepted output without a table")
	}
	if _, err := parseTop(strings.Replace(pprofTop, "25.00%", "many%", 1)); err == nil {
		t.Error("parseTop accepted a malformed share")
	}
}

func TestFocusShare(t *testing.T) {
	out := "Active filters:\n   focus=sqlite\nShowing nodes accounting for 0.90s, 45.00% of 2s total\n      flat  flat%   sum%        cum   cum%\n"
	if got, err := focusShare(out); err != nil || got != 45 {
		t.Errorf("focusShare = %v, %v; want 45", got, err)
	}
	if got, err := focusShare("File: x\nType: cpu\n"); err != nil || got != 0 {
		t.Errorf("focusShare of an empty focus = %v, %v; want 0", got, err)
	}
	if _, err := focusShare("      flat  flat%   sum%        cum   cum%\n  1s 100% 100% 1s 100% f\n"); err == nil {
		t.Error("focusShare accepted a table without its total")
	}
}

func TestPercentile(t *testing.T) {
	s := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct{ p, want float64 }{{50, 5}, {95, 10}, {99, 10}, {10, 1}, {0, 1}} {
		if got := percentile(s, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if s[0] != 5 {
		t.Error("percentile sorted its argument in place")
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestSizeName(t *testing.T) {
	for n, want := range map[int64]string{1 << 30: "1 GiB", 64 << 20: "64 MiB", 4 << 10: "4 KiB", 1000: "1000 B", 1<<20 + 1: "1048577 B"} {
		if got := sizeName(n); got != want {
			t.Errorf("sizeName(%d) = %q, want %q", n, got, want)
		}
	}
}
