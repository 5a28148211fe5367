package oprf

import (
	"crypto"
	"crypto/sha512"
	"encoding/binary"
	"hash"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/zk/dleq"
)

// Labels of RFC 9497 Sections 3.1, 3.3 and 4.
const (
	contextPrefix     = "OPRFV1-"
	labelHashToGroup  = "HashToGroup-"
	labelHashToScalar = "HashToScalar-"
	labelInfo         = "Info"
	labelFinalize     = "Finalize"
)

// suiteGroup is the ristretto255 group of the suite; its hash is SHA-512.
var suiteGroup = group.Ristretto255

// contextString is the RFC 9497 contextString: "OPRFV1-" || mode || "-" ||
// identifier. The RFC's DLEQ proofs use it as their domain separation tag.
func contextString(m Mode) []byte {
	out := make([]byte, 0, len(contextPrefix)+2+len(SuiteID))
	out = append(out, contextPrefix...)
	out = append(out, byte(m), '-')
	return append(out, SuiteID...)
}

func labelled(label string, m Mode) []byte {
	return append([]byte(label), contextString(m)...)
}

// hashToGroup is the RFC's G.HashToGroup(input) with the mode's DST.
func hashToGroup(m Mode, input []byte) group.Element {
	return suiteGroup.HashToElement(input, labelled(labelHashToGroup, m))
}

// infoScalar is m = G.HashToScalar("Info" || I2OSP(len(info), 2) || info) of
// RFC 9497 Section 3.3.3. The caller has checked len(info) <= MaxInputSize.
func infoScalar(info []byte) group.Scalar {
	framed := make([]byte, 0, len(labelInfo)+2+len(info))
	framed = append(framed, labelInfo...)
	framed = binary.BigEndian.AppendUint16(framed, uint16(len(info)))
	framed = append(framed, info...)
	return suiteGroup.HashToScalar(framed, labelled(labelHashToScalar, ModePOPRF))
}

// dleqParams configures circl's DLEQ prover and verifier for the RFC 9497
// transcript of mode m.
func dleqParams(m Mode) dleq.Params {
	return dleq.Params{G: suiteGroup, H: crypto.SHA512, DST: contextString(m)}
}

// finalizeHash is the RFC's Finalize hash: SHA-512 over the length-prefixed
// input, info (POPRF only) and unblinded element, then "Finalize". The caller
// has checked the lengths against MaxInputSize.
func finalizeHash(m Mode, input, info, element []byte) []byte {
	h := sha512.New()
	writePrefixed(h, input)
	if m == ModePOPRF {
		writePrefixed(h, info)
	}
	writePrefixed(h, element)
	h.Write([]byte(labelFinalize))
	return h.Sum(make([]byte, 0, OutputSize))
}

// writePrefixed writes I2OSP(len(b), 2) || b; hash writes never fail.
func writePrefixed(h hash.Hash, b []byte) {
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(b)))
	h.Write(n[:])
	h.Write(b)
}
