// Package progress is the one progress display of the assent commands
// (demo, bench): a status line rewritten in place with a carriage return,
// and byte counters drawn on it as a bar. It draws only on a terminal
// (OnTerminal), so that logs and pipes get no carriage returns.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// minRedraw is the shortest time between two redraws by Tick and Bar.
const minRedraw = 100 * time.Millisecond

// OnTerminal returns w if it is a terminal, else nil (no display).
func OnTerminal(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return w
	}
	return nil
}

// Line is a status line, safe for concurrent use. A nil *Line, or one on a
// nil writer, draws nothing.
type Line struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	width int // length of the line on screen
	last  time.Time
}

// New returns a line drawn on w (nil: drawn nowhere). Pass
// OnTerminal(stderr) to draw only on a terminal.
func New(w io.Writer) *Line { return &Line{w: w, start: time.Now()} }

// Set replaces the line with "[ Ns] " and the text, N the seconds since New.
func (l *Line) Set(format string, args ...any) {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write(fmt.Sprintf("[%5.0fs] ", time.Since(l.start).Seconds()) + fmt.Sprintf(format, args...))
}

// Tick is Set at most every 100 ms, for counters updated often.
func (l *Line) Tick(format string, args ...any) {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	recent := time.Since(l.last) < minRedraw
	l.mu.Unlock()
	if !recent {
		l.Set(format, args...)
	}
}

func (l *Line) write(line string) {
	pad := max(l.width-len(line), 0)
	fmt.Fprint(l.w, "\r"+line+strings.Repeat(" ", pad))
	l.width = len(line)
	l.last = time.Now()
}

// Done clears the line.
func (l *Line) Done() {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.width > 0 {
		fmt.Fprint(l.w, "\r"+strings.Repeat(" ", l.width)+"\r")
		l.width = 0
	}
}

// Bar counts the bytes of one transfer of a known total, drawn on a Line
// as "label [####......]  42%  x MiB of y MiB  z MB/s".
type Bar struct {
	line  *Line
	label string
	total int64
	done  int64
	start time.Time
}

// Bar returns a bar of total bytes on l.
func (l *Line) Bar(label string, total int64) *Bar {
	return &Bar{line: l, label: label, total: max(total, 1), start: time.Now()}
}

// Write counts len(p) bytes and redraws at most every 100 ms; it never
// fails, so a Bar can sit in an io.MultiWriter or io.TeeReader.
func (b *Bar) Write(p []byte) (int, error) {
	b.done += int64(len(p))
	b.line.Tick("%s", b.text())
	return len(p), nil
}

// Finish draws the final count and clears the line.
func (b *Bar) Finish() {
	b.line.Set("%s", b.text())
	b.line.Done()
}

func (b *Bar) text() string {
	const width = 30
	done := min(b.done, b.total)
	filled := int(done * width / b.total)
	rate := "- MB/s"
	if d := time.Since(b.start); d > 0 {
		rate = fmt.Sprintf("%.0f MB/s", float64(b.done)/1e6/d.Seconds())
	}
	return fmt.Sprintf("%s [%s%s] %3d%%  %s of %s  %s", b.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		done*100/b.total, MiB(b.done), MiB(b.total), rate)
}

// MiB shows a size in MiB (in KiB below one MiB).
func MiB(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
