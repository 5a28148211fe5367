package bench

import (
	"errors"
	"os"
	"path/filepath"
)

// Files WriteFiles writes in its directory.
const (
	FileJSON       = "results.json"
	FileLatency    = "latency.svg"
	FileThroughput = "throughput.svg"
	FileProfile    = "cpu.pprof" // written during the run, by the server
)

// WriteFiles writes the raw results as JSON, and the latency and
// throughput charts when there are figures to draw, into dir (made if
// absent).
func (r *Results) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, fn func(f *os.File) error) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		return errors.Join(fn(f), f.Close())
	}
	if err := write(FileJSON, func(f *os.File) error { return r.WriteJSON(f) }); err != nil {
		return err
	}
	if len(r.Latencies) > 0 {
		if err := write(FileLatency, func(f *os.File) error { return r.WriteLatencySVG(f) }); err != nil {
			return err
		}
	}
	if len(r.Throughput) > 0 {
		if err := write(FileThroughput, func(f *os.File) error { return r.WriteThroughputSVG(f) }); err != nil {
			return err
		}
	}
	return nil
}
