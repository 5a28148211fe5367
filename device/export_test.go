package device

import "io"

// SetEvaluate replaces the agent's POPRF evaluation, so that external tests
// can count evaluations or make a wrong one.
func SetEvaluate(a *Agent, f func(rand io.Reader, blinded [][]byte, info []byte) ([][]byte, []byte, error)) {
	a.evaluate = f
}
