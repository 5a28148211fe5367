package bench

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// opCost is what one operation costs, the median of several rounds.
type opCost struct {
	N    int           // operations per round
	CPU  time.Duration // process CPU time per operation
	Wall time.Duration // wall-clock time per operation
}

// perSecond returns how many operations of c fit in one CPU second.
func (c opCost) perSecond() float64 {
	if c.CPU <= 0 {
		return 0
	}
	return float64(time.Second) / float64(c.CPU)
}

// mbPerSecond returns the throughput of c for an operation that processes
// bytes, in MB (10^6 bytes) per CPU second.
func (c opCost) mbPerSecond(bytes int64) float64 {
	return c.perSecond() * float64(bytes) / 1e6
}

// timing says how long each measurement runs.
type timing struct {
	round  time.Duration // target length of one round
	rounds int           // rounds after calibration; the median is kept
}

// maxOpsPerRound bounds a round whatever the calibration predicts.
const maxOpsPerRound = 1 << 24

// measure runs op in rounds of n calls and returns its median cost per call.
// setup(n) prepares the inputs of n calls outside the measurement (nil: no
// setup); op(i) is call i of the round. n is calibrated first so that a
// round lasts about t.round.
func measure(ctx context.Context, t timing, setup func(n int) error, op func(i int) error) (opCost, error) {
	round := func(n int) (opCost, error) {
		if setup != nil {
			if err := setup(n); err != nil {
				return opCost{}, err
			}
		}
		cpu0, err := processCPU()
		if err != nil {
			return opCost{}, err
		}
		t0 := time.Now()
		for i := range n {
			if err := op(i); err != nil {
				return opCost{}, err
			}
		}
		wall := time.Since(t0)
		cpu1, err := processCPU()
		if err != nil {
			return opCost{}, err
		}
		return opCost{N: n, CPU: (cpu1 - cpu0) / time.Duration(n), Wall: wall / time.Duration(n)}, nil
	}

	n := 1
	for {
		if err := ctx.Err(); err != nil {
			return opCost{}, err
		}
		c, err := round(n)
		if err != nil {
			return opCost{}, err
		}
		if c.Wall*time.Duration(n) >= t.round/2 || n >= maxOpsPerRound {
			break
		}
		// Aim 20% past the target, grow at most 100x per step.
		per := max(c.Wall, time.Nanosecond)
		next := int(float64(t.round) * 1.2 / float64(per))
		n = min(max(next, n+1), 100*n, maxOpsPerRound)
	}
	costs := make([]opCost, 0, t.rounds)
	for range max(t.rounds, 1) {
		if err := ctx.Err(); err != nil {
			return opCost{}, err
		}
		c, err := round(n)
		if err != nil {
			return opCost{}, err
		}
		costs = append(costs, c)
	}
	slices.SortFunc(costs, func(a, b opCost) int { return int(a.CPU - b.CPU) })
	med := costs[len(costs)/2]
	if med.CPU <= 0 {
		return med, fmt.Errorf("CPU time did not advance over %d operations (clock too coarse)", n)
	}
	return med, nil
}
