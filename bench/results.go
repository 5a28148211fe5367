package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Units of Row.Value.
const (
	UnitMicros     = "µs CPU/op"
	UnitMBps       = "MB/s"
	UnitPerSecond  = "/s"
	UnitMillis     = "ms"
	UnitMiB        = "MiB"
	UnitKiB        = "KiB"
	UnitCores      = "cores"
	UnitPercent    = "%"
	UnitMillisEach = "ms/record"
	UnitWrites     = "writes"
	UnitFsyncs     = "fsyncs"
)

// Results is everything one run measured. It round-trips through JSON
// (WriteJSON, ReadJSON) unchanged.
type Results struct {
	Meta Meta `json:"meta"`
	// Rows are the table, in order.
	Rows []Row `json:"rows"`
	// Latencies are the raw samples behind the latency rows, for charts.
	Latencies []LatencySeries `json:"latencies,omitempty"`
	// Throughput is operations per second against concurrency.
	Throughput []ThroughputPoint `json:"throughput,omitempty"`
	// Profile is where the server's CPU went during the end-to-end run.
	Profile []ProfileEntry `json:"profile,omitempty"`
	// Errors are the failures of parts that could not be measured.
	Errors []string `json:"errors,omitempty"`
}

// Meta describes the machine and the run.
type Meta struct {
	Date       time.Time `json:"date"`
	CPU        string    `json:"cpu"`
	Cores      int       `json:"cores"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	GoVersion  string    `json:"go_version"`
	OS         string    `json:"os"`
	Arch       string    `json:"arch"`
	Quick      bool      `json:"quick"`
	// Seconds is how long the run took.
	Seconds float64 `json:"seconds"`
	// Load is the machine's 1-minute load average at the start and the end
	// of the run: other work on the machine slows wall-clock figures.
	Load string `json:"load,omitempty"`
	// Server says how the end-to-end server ran and where its figures
	// come from.
	Server string `json:"server,omitempty"`
}

// Row is one line of the table: a measured value, and where one applies,
// the baseline measured in the same run, their ratio and the goal.
type Row struct {
	// ID is a stable key, e.g. "primitive/poprf-evaluate".
	ID   string `json:"id"`
	Part int    `json:"part"`
	Name string `json:"name"`
	// Value is in Unit; zero with Skipped set when not measured.
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Baseline, in Unit, is what Value is compared with, named by
	// BaselineName; Ratio is Value/Baseline.
	Baseline     float64 `json:"baseline,omitempty"`
	BaselineName string  `json:"baseline_name,omitempty"`
	Ratio        float64 `json:"ratio,omitempty"`
	// Goal is the target for this row, e.g. ">= 0.9x"; Met says
	// whether this run reached it.
	Goal string `json:"goal,omitempty"`
	Met  *bool  `json:"met,omitempty"`
	Note string `json:"note,omitempty"`
	// Skipped is why the row was not measured ("" when it was).
	Skipped string `json:"skipped,omitempty"`
}

// LatencySeries is the latency samples of one kind of operation at one
// concurrency.
type LatencySeries struct {
	Op          string    `json:"op"` // "seal" or "open"
	Concurrency int       `json:"concurrency"`
	Millis      []float64 `json:"millis"`
}

// ThroughputPoint is a rate at one concurrency.
type ThroughputPoint struct {
	Op          string  `json:"op"`
	Concurrency int     `json:"concurrency"`
	PerSecond   float64 `json:"per_second"`
}

// ProfileEntry is a share of the server's CPU time: a category ("SQLite",
// "crypto", ...) or a function.
type ProfileEntry struct {
	Kind    string  `json:"kind"` // "category" or "function"
	Name    string  `json:"name"`
	Percent float64 `json:"percent"`
}

// Row returns the row with id, or nil.
func (r *Results) Row(id string) *Row {
	for i := range r.Rows {
		if r.Rows[i].ID == id {
			return &r.Rows[i]
		}
	}
	return nil
}

// WriteJSON writes r as indented JSON.
func (r *Results) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads results written by WriteJSON. Unknown fields and trailing
// data are errors.
func ReadJSON(rd io.Reader) (*Results, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Results
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("bench: results: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("bench: results: trailing data after the JSON value")
	}
	return &r, nil
}

// add appends a measured row.
func (r *Results) add(row Row) *Row {
	if row.Baseline > 0 && row.Ratio == 0 {
		row.Ratio = row.Value / row.Baseline
	}
	r.Rows = append(r.Rows, row)
	return &r.Rows[len(r.Rows)-1]
}

// skip appends a row that could not be measured, and why.
func (r *Results) skip(part int, id, name, unit, why string) {
	r.Rows = append(r.Rows, Row{ID: id, Part: part, Name: name, Unit: unit, Skipped: why})
}

// fail records the failure of a part, and rows for what it left unmeasured.
func (r *Results) fail(part int, what string, err error) {
	r.Errors = append(r.Errors, fmt.Sprintf("part %d, %s: %v", part, what, err))
}

// goal sets the goal of a row and whether v meets it: at most (atMost) or
// at least limit.
func (row *Row) goal(text string, v, limit float64, atMost bool) {
	met := v >= limit
	if atMost {
		met = v <= limit
	}
	row.Goal, row.Met = text, &met
}
