package device

import "io"

// SetEvaluate replaces the agent's POPRF evaluation, so that external tests
// can count evaluations or make a wrong one.
func SetEvaluate(a *Agent, f func(rand io.Reader, blinded [][]byte, info []byte) ([][]byte, []byte, error)) {
	a.evaluate = f
}

// SealBundle seals plain to the transfer public key pub with HPKE info, as
// an existing device does, so that external tests can make bundles the
// real sender never would.
func SealBundle(rand io.Reader, pub, info, plain []byte) ([]byte, error) {
	return sealBundle(rand, pub, info, plain)
}
