package oprf

// Internals the external tests reach: the decoders (fuzzed directly), the
// DST (checked against the RFC vectors) and the info scalar (to build a key
// that info cancels).

func ParseElementForTest(b []byte) error {
	_, err := parseElement(b)
	return err
}

func ParseProofForTest(b []byte) error {
	_, err := parseProof(b)
	return err
}

func HashToGroupDSTForTest(m Mode) []byte { return labelled(labelHashToGroup, m) }

func InfoScalarForTest(info []byte) []byte {
	b, err := infoScalar(info).MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}
