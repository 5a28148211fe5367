package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes r as markdown: a line about the machine, the table of
// every row, and where the server's CPU went when a profile was taken.
func (r *Results) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	m := r.Meta
	kind := "full run"
	if m.Quick {
		kind = "quick run"
	}
	fmt.Fprintf(&b, "Assent benchmark, %s: %s, %s, %d cores (GOMAXPROCS %d), %s %s/%s, %.0f s.\n",
		kind, m.Date.Format("2006-01-02 15:04 UTC"), m.CPU, m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, m.Seconds)
	if m.Load != "" {
		fmt.Fprintf(&b, "Load average (1 minute): %s.\n", m.Load)
	}
	if m.Server != "" {
		fmt.Fprintf(&b, "Server: %s.\n", m.Server)
	}
	b.WriteString("\n| part | measure | value | baseline | ratio | goal |\n|---|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", row.Part, cell(row.measure()), cell(row.valueText()),
			cell(row.baselineText()), row.ratioText(), cell(row.goalText()))
	}
	if len(r.Profile) > 0 {
		b.WriteString("\nWhere the server's CPU time went while sealing and opening (CPU profile of the end-to-end run):\n\n| share | where |\n|---|---|\n")
		for _, p := range r.Profile {
			name := p.Name
			switch p.Kind {
			case ProfileCategory:
				name = "in " + name
			case ProfileStack:
				name = name + " (on the stack; overlaps)"
			case ProfileFunction:
				name = "`" + name + "`"
			}
			fmt.Fprintf(&b, "| %.1f%% | %s |\n", p.Percent, cell(name))
		}
	}
	if len(r.Errors) > 0 {
		b.WriteString("\nFailed:\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell keeps a table cell on one line and its pipes escaped.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func (row *Row) measure() string {
	if row.Note != "" {
		return row.Name + " (" + row.Note + ")"
	}
	return row.Name
}

func (row *Row) valueText() string {
	if row.Skipped != "" {
		return "not measured (" + row.Skipped + ")"
	}
	return formatValue(row.Value, row.Unit)
}

func (row *Row) baselineText() string {
	if row.Baseline == 0 {
		return ""
	}
	return formatValue(row.Baseline, row.Unit) + ": " + row.BaselineName
}

func (row *Row) ratioText() string {
	if row.Ratio == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx", row.Ratio)
}

func (row *Row) goalText() string {
	switch {
	case row.Goal == "":
		return ""
	case row.Met == nil:
		return row.Goal
	case *row.Met:
		return row.Goal + ": met"
	}
	return row.Goal + ": **missed**"
}

// formatValue prints v in unit with a precision that suits its size.
func formatValue(v float64, unit string) string {
	num := func(v float64) string {
		switch {
		case v >= 100:
			return fmt.Sprintf("%.0f", v)
		case v >= 10:
			return fmt.Sprintf("%.1f", v)
		}
		return fmt.Sprintf("%.2f", v)
	}
	if unit == UnitPercent {
		return num(v) + "%"
	}
	return num(v) + " " + unit
}
