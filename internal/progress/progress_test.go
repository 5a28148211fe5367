package progress

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnTerminal: a buffer, a regular file and nil are no terminal, so
// nothing is drawn on them.
func TestOnTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, w := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "file": f} {
		if OnTerminal(w) != nil {
			t.Errorf("%s taken for a terminal", name)
		}
	}
	if OnTerminal(nil) != nil {
		t.Error("nil taken for a terminal")
	}
	l := New(OnTerminal(f))
	l.Set("x %d", 1)
	b := l.Bar("up", 10)
	b.Write(make([]byte, 10))
	b.Finish()
	l.Done()
	if fi, _ := f.Stat(); fi.Size() != 0 {
		t.Errorf("%d bytes drawn on a file", fi.Size())
	}
	var nilLine *Line
	nilLine.Set("nothing")
	nilLine.Done()
}

// TestLine: the line is rewritten in place, padded over a longer one, and
// cleared; a bar ends at 100% of its total.
func TestLine(t *testing.T) {
	var out bytes.Buffer
	l := New(&out)
	l.Set("a longer line")
	l.Set("short")
	if !strings.HasSuffix(out.String(), "short        ") || strings.Count(out.String(), "\r") != 2 {
		t.Fatalf("rewritten line %q", out.String())
	}
	l.Done()
	if !strings.HasSuffix(out.String(), "\r") {
		t.Fatalf("not cleared: %q", out.String())
	}
	out.Reset()
	b := l.Bar("uploading", 3<<20)
	b.Write(make([]byte, 1<<20))
	b.Write(make([]byte, 2<<20))
	b.Finish()
	if !strings.Contains(out.String(), "[##############################] 100%  3.0 MiB of 3.0 MiB") {
		t.Fatalf("bar %q", out.String())
	}
	if got := MiB(512); got != "0.5 KiB" {
		t.Errorf("MiB(512) = %q", got)
	}
}
