package bench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assent-dev/assent/server"
)

// ErrConfig is returned by Run for a configuration it cannot run.
var ErrConfig = errors.New("bench: invalid configuration")

// Part numbers, as the issue and the table number them.
const (
	PartPrimitives = 1
	PartProtocol   = 2
	PartEnvelope   = 3
	PartEndToEnd   = 4
	PartGrowth     = 5
	PartAge        = 6
)

// Config says what one run measures and how long it takes. Start from
// QuickConfig or FullConfig.
type Config struct {
	// Quick only labels the results.
	Quick bool
	// Parts selects the parts to run (all when empty).
	Parts []int
	// Progress, if set, receives a progress line rewritten in place.
	Progress io.Writer
	// OutDir, if set, receives the server's CPU profile of the end-to-end
	// run (cpu.pprof) during the run; WriteFiles writes the rest there.
	OutDir string

	// ServerCommand starts a server child process: the argv of a program
	// that calls ServeChild with the arguments Run appends, and
	// ServerEnv its extra environment. Parts 2 (whole server), 4 and 5
	// need it.
	ServerCommand []string
	ServerEnv     []string

	// Round is the target length of one round of a measurement in
	// process, Rounds how many rounds are kept (the median counts).
	Round  time.Duration
	Rounds int

	// EnvelopeSize is the record size of part 3, in bytes.
	EnvelopeSize int64
	// Approvals is how many create and how many access approvals part 2
	// runs through the whole server and device.
	Approvals int
	// Concurrency lists the concurrencies of part 4, PhaseDuration how long
	// each rate is measured, and RecordSize the content size of those
	// records.
	Concurrency   []int
	PhaseDuration time.Duration
	RecordSize    int64
	// Transfers lists the record sizes whose upload and download rates are
	// measured.
	Transfers []int64
	// GrowthSizes lists the store sizes (records) of part 5, GrowthSamples
	// how many records are timed at each, and Pending how many pending
	// requests the memory figure is taken with.
	GrowthSizes   []int
	GrowthSamples int
	Pending       int
	// AgeSize is the file size of part 6, in bytes.
	AgeSize int64
	// AgeVersion is the filippo.io/age version installed when no age is on
	// PATH.
	AgeVersion string
	// WorkDir is where temporary data goes (os.TempDir() when empty); a
	// full run needs a few GiB there.
	WorkDir string

	// Stores lists the stores part 4 runs on (StoreSQLite when empty):
	// the first gets the whole part, each other one its sealing rates at
	// every concurrency, in the same run, next to the first's. The other
	// parts run on SQLite.
	Stores []string
	// PostgresURL is the PostgreSQL server of StorePostgres; each run
	// makes a schema of its own there and drops it at the end.
	PostgresURL string
}

// Stores of Config.Stores.
const (
	StoreSQLite   = server.StoreSQLite
	StorePostgres = server.StorePostgres
)

// storeNames are the stores as the table names them.
var storeNames = map[string]string{StoreSQLite: "SQLite", StorePostgres: "PostgreSQL"}

// QuickConfig is a run of under two minutes on a small machine. It seals at
// concurrency 64 too, where the sealing goals are set, so that a quick run
// prints them (a few seconds more).
func QuickConfig() Config {
	return Config{
		Quick:         true,
		Round:         80 * time.Millisecond,
		Rounds:        3,
		EnvelopeSize:  16 << 20,
		Approvals:     20,
		Concurrency:   []int{1, 8, 64},
		PhaseDuration: 3 * time.Second,
		RecordSize:    4 << 10,
		Transfers:     []int64{1 << 20, 16 << 20},
		GrowthSizes:   []int{1000},
		GrowthSamples: 10,
		Pending:       500,
		AgeSize:       64 << 20,
		AgeVersion:    "v1.3.2",
	}
}

// FullConfig is everything the issue asks for.
func FullConfig() Config {
	return Config{
		Round:         500 * time.Millisecond,
		Rounds:        5,
		EnvelopeSize:  64 << 20,
		Approvals:     300,
		Concurrency:   []int{1, 8, 64},
		PhaseDuration: 20 * time.Second,
		RecordSize:    4 << 10,
		Transfers:     []int64{1 << 20, 64 << 20, 1 << 30},
		GrowthSizes:   []int{1000, 10000, 100000},
		GrowthSamples: 100,
		Pending:       10000,
		AgeSize:       1 << 30,
		AgeVersion:    "v1.3.2",
	}
}

// ParseParts parses a comma-separated list of part numbers ("1,3,6"), as
// the -parts flag of `assent bench` takes it. Each must be 1 to 6, none
// repeated (ErrConfig otherwise).
func ParseParts(list string) ([]int, error) {
	var parts []int
	for p := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < PartPrimitives || n > PartAge {
			return nil, fmt.Errorf("%w: %.20q is not a part number from 1 to 6", ErrConfig, p)
		}
		if slices.Contains(parts, n) {
			return nil, fmt.Errorf("%w: part %d given twice", ErrConfig, n)
		}
		parts = append(parts, n)
	}
	return parts, nil
}

// has reports whether the run includes part.
func (c *Config) has(part int) bool {
	return len(c.Parts) == 0 || slices.Contains(c.Parts, part)
}

// needsServer reports whether the run starts a server.
func (c *Config) needsServer() bool {
	return c.has(PartProtocol) || c.has(PartEndToEnd) || c.has(PartGrowth)
}

func (c *Config) validate() error {
	for _, p := range c.Parts {
		if p < PartPrimitives || p > PartAge {
			return fmt.Errorf("%w: no part %d (parts are 1 to 6)", ErrConfig, p)
		}
	}
	if c.Round <= 0 || c.Rounds <= 0 {
		return fmt.Errorf("%w: Round and Rounds must be positive", ErrConfig)
	}
	if c.has(PartEnvelope) && (c.EnvelopeSize < chunkSize || c.EnvelopeSize > 1<<30) {
		return fmt.Errorf("%w: EnvelopeSize must be 64 KiB to 1 GiB", ErrConfig)
	}
	if c.needsServer() && len(c.ServerCommand) == 0 {
		return fmt.Errorf("%w: parts 2, 4 and 5 need a ServerCommand", ErrConfig)
	}
	if c.has(PartProtocol) && c.Approvals <= 0 {
		return fmt.Errorf("%w: Approvals must be positive", ErrConfig)
	}
	if c.has(PartEndToEnd) {
		if len(c.Concurrency) == 0 || c.PhaseDuration <= 0 || c.RecordSize <= 0 {
			return fmt.Errorf("%w: part 4 needs Concurrency, PhaseDuration and RecordSize", ErrConfig)
		}
		for _, n := range c.Concurrency {
			if n < 1 || n > 1024 {
				return fmt.Errorf("%w: concurrency %d out of 1..1024", ErrConfig, n)
			}
		}
		for _, n := range c.Transfers {
			if n <= 0 || n > 16<<30 {
				return fmt.Errorf("%w: transfer size %d out of range", ErrConfig, n)
			}
		}
	}
	if c.has(PartGrowth) {
		if c.GrowthSamples <= 0 || c.Pending <= 0 || !slices.IsSorted(c.GrowthSizes) {
			return fmt.Errorf("%w: part 5 needs GrowthSamples, Pending and growing GrowthSizes", ErrConfig)
		}
	}
	for i, st := range c.Stores {
		if storeNames[st] == "" || slices.Index(c.Stores, st) != i {
			return fmt.Errorf("%w: store %.20q is not sqlite or postgres, or is given twice", ErrConfig, st)
		}
	}
	if slices.Contains(c.Stores, StorePostgres) != (c.PostgresURL != "") {
		return fmt.Errorf("%w: the postgres store needs PostgresURL, and PostgresURL the postgres store", ErrConfig)
	}
	if c.has(PartAge) && c.AgeSize <= 0 {
		return fmt.Errorf("%w: AgeSize must be positive", ErrConfig)
	}
	return nil
}
