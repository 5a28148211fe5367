package threshold

import "github.com/assent-dev/assent/oprf"

// Sizes of the oprf package's wire values, under short local names.
const (
	elementSize = oprf.ElementSize
	outputSize  = oprf.OutputSize
	maxBatch    = oprf.MaxBatch
)
