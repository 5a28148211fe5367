//go:build !race

package ferrettest

// raceEnabled: this binary is built with the race detector.
const raceEnabled = false
