package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// runner holds the state of one run.
type runner struct {
	cfg    Config
	res    *Results
	prog   *progress
	timing timing
	work   string // temporary directory of the run, removed at the end
	fix    *fixture
	prim   primitiveCosts
	// sums are the primitive sums of part 2, for the whole-system rows.
	sums struct{ create, access, device time.Duration }
	// sealCPU is the CPU use of the last sealing phase of part 4.
	sealCPU sealCPU
}

// Run measures what cfg selects and returns the results. A part that fails
// is reported in Results.Errors and in the returned error, and the other
// parts still run; a figure that cannot be measured on this machine (age
// not installable, no /proc) is a row marked Skipped, not an error.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	start, load := time.Now(), loadAverage()
	b := &runner{
		cfg:    cfg,
		res:    &Results{Meta: machine(cfg.Quick)},
		prog:   newProgress(cfg.Progress),
		timing: timing{round: cfg.Round, rounds: cfg.Rounds},
	}
	defer b.prog.done()
	if cfg.OutDir != "" {
		abs, err := filepath.Abs(cfg.OutDir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, err
		}
		b.cfg.OutDir = abs
	}
	work, err := os.MkdirTemp(cfg.WorkDir, "assent-bench-")
	if err != nil {
		return nil, err
	}
	b.work = work
	defer os.RemoveAll(work)
	if b.fix, err = newFixture(); err != nil {
		return nil, err
	}

	var errs []error
	inProcess := cfg.has(PartPrimitives) || cfg.has(PartProtocol) || cfg.has(PartEnvelope)
	steps := []struct {
		part int
		run  bool
		what string
		fn   func(context.Context) error
	}{
		// Parts 2 and 3 compare with the primitives: they run for them too.
		{PartPrimitives, inProcess, "primitives", b.runPrimitives},
		{PartProtocol, cfg.has(PartProtocol), "threshold step", b.runThresholdStep},
		{PartProtocol, cfg.has(PartProtocol), "approvals through the server", b.runApprovals},
		{PartEnvelope, cfg.has(PartEnvelope), "envelope", b.runEnvelope},
		{PartEndToEnd, cfg.has(PartEndToEnd), "end to end", b.runEndToEnd},
		{PartGrowth, cfg.has(PartGrowth), "store growth", b.runGrowth},
		{PartGrowth, cfg.has(PartGrowth), "pending memory", b.runPending},
		{PartAge, cfg.has(PartAge), "age", b.runAge},
	}
	for _, s := range steps {
		if !s.run || ctx.Err() != nil {
			continue
		}
		if err := s.fn(ctx); err != nil {
			b.res.fail(s.part, s.what, err)
			errs = append(errs, fmt.Errorf("part %d, %s: %w", s.part, s.what, err))
		}
	}
	if !cfg.has(PartPrimitives) {
		b.res.Rows = dropPart(b.res.Rows, PartPrimitives)
	}
	b.res.Meta.Seconds = time.Since(start).Seconds()
	if end := loadAverage(); load != "" && end != "" {
		b.res.Meta.Load = load + " at the start, " + end + " at the end"
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return b.res, errors.Join(errs...)
}

func dropPart(rows []Row, part int) []Row {
	out := rows[:0]
	for _, r := range rows {
		if r.Part != part {
			out = append(out, r)
		}
	}
	return out
}

// machine describes this machine and Go.
func machine(quick bool) Meta {
	return Meta{
		Date:       time.Now().UTC().Truncate(time.Second),
		CPU:        cpuModel(),
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		Quick:      quick,
	}
}

// loadAverage is the 1-minute load average of /proc/loadavg, or "".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// cpuModel is the "model name" of /proc/cpuinfo, or the architecture.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
