package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress keeps one status line up to date, rewriting it in place with a
// carriage return.
type progress struct {
	mu    sync.Mutex
	w     io.Writer // nil: no output
	start time.Time
	width int // length of the line on screen
	last  time.Time
}

func newProgress(w io.Writer) *progress { return &progress{w: w, start: time.Now()} }

// set replaces the line.
func (p *progress) set(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.write(fmt.Sprintf("[%5.0fs] ", time.Since(p.start).Seconds()) + fmt.Sprintf(format, args...))
}

// tick replaces the line at most a few times a second, for counters.
func (p *progress) tick(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	recent := time.Since(p.last) < 200*time.Millisecond
	p.mu.Unlock()
	if !recent {
		p.set(format, args...)
	}
}

func (p *progress) write(line string) {
	pad := max(p.width-len(line), 0)
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", pad))
	p.width = len(line)
	p.last = time.Now()
}

// done clears the line.
func (p *progress) done() {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.width > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
		p.width = 0
	}
}
