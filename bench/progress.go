package bench

import (
	"io"

	iprogress "github.com/assent-dev/assent/internal/progress"
)

// progress is the run's status line: internal/progress's display, under
// the short names the parts of the run use. A nil *progress draws nothing.
type progress struct{ line *iprogress.Line }

func newProgress(w io.Writer) *progress { return &progress{line: iprogress.New(w)} }

// set replaces the line.
func (p *progress) set(format string, args ...any) {
	if p != nil {
		p.line.Set(format, args...)
	}
}

// tick replaces the line at most a few times a second, for counters.
func (p *progress) tick(format string, args ...any) {
	if p != nil {
		p.line.Tick(format, args...)
	}
}

// done clears the line.
func (p *progress) done() {
	if p != nil {
		p.line.Done()
	}
}
