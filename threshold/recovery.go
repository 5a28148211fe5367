package threshold

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/math/polynomial"
	"github.com/cloudflare/circl/secretsharing"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
)

// Layout of a recovery share; see the package documentation.
const (
	recoveryPrefix  = "assent-recovery-v1-"
	recoveryVersion = 1
	shareHeaderSize = 4 // version, t, n, share id
	groupTagSize    = 4
	checksumSize    = 4
	sharePayload    = shareHeaderSize + oprf.ScalarSize + groupTagSize + checksumSize
	shareGroupChars = 5
	maxShares       = 255
)

var shareBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// recoveryShare is one decoded share.
type recoveryShare struct {
	t, n, id byte
	value    []byte // canonical scalar, oprf.ScalarSize bytes
	tag      [groupTagSize]byte
}

// SplitRecovery splits the device share k into n printable shares of which
// any t recover it (2 <= t <= n <= 255, else ErrShare). The text format is
// in the package documentation.
//
// The polynomial is drawn by circl's secretsharing; for ristretto255 circl
// takes its randomness from crypto/rand whatever rand is, so two splits of
// one key never match. The shares are secrets returned as strings for
// printing: the caller shows them once and drops them.
func SplitRecovery(rand io.Reader, k *oprf.PrivateKey, t, n int) ([]string, error) {
	if t < 2 || n < t || n > maxShares {
		return nil, fmt.Errorf("%w: a %d-of-%d split is not allowed (need 2 <= t <= n <= %d)", ErrShare, t, n, maxShares)
	}
	s, err := keyScalar(k)
	if err != nil {
		return nil, err
	}
	defer clearScalar(s)
	tag := groupTag(k.Public())

	shares := secretsharing.New(rand, uint(t-1), s).Share(uint(n))
	out := make([]string, n)
	for i, sh := range shares {
		v, err := sh.Value.MarshalBinary()
		clearScalar(sh.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: encoding share value: %v", ErrShare, err)
		}
		out[i] = encodeShare(recoveryShare{t: byte(t), n: byte(n), id: byte(i + 1), value: v, tag: tag})
		secret.Clear(v)
	}
	return out, nil
}

// Recover returns the device share from t or more shares of one kit. Every
// failure wraps ErrShare with a reason naming the share by its position
// (1-based) in shares: not a share, unsupported version, mistyped
// (checksum), from another kit, duplicate id, too few shares, or shares that
// do not agree. The caller destroys the key.
func Recover(shares []string) (*oprf.PrivateKey, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: no shares given", ErrShare)
	}
	decoded := make([]recoveryShare, len(shares))
	defer func() {
		for _, d := range decoded {
			secret.Clear(d.value)
		}
	}()
	seen := make(map[byte]int, len(shares))
	for i, text := range shares {
		d, err := decodeShare(text)
		if err != nil {
			return nil, fmt.Errorf("%w: share %d: %s", ErrShare, i+1, err)
		}
		decoded[i] = d
		first := decoded[0]
		if d.t != first.t || d.n != first.n || d.tag != first.tag {
			return nil, fmt.Errorf("%w: share %d is from another recovery kit than share 1", ErrShare, i+1)
		}
		if j, dup := seen[d.id]; dup {
			return nil, fmt.Errorf("%w: shares %d and %d are both share number %d", ErrShare, j, i+1, d.id)
		}
		seen[d.id] = i + 1
	}
	t := int(decoded[0].t)
	if len(decoded) < t {
		return nil, fmt.Errorf("%w: this %d-of-%d kit needs %d shares, %d given", ErrShare, t, decoded[0].n, t, len(decoded))
	}
	return interpolate(decoded, t)
}

// interpolate recovers the key from the first t shares, checks that any
// further share lies on the same polynomial, and checks the key against the
// kit's group tag.
func interpolate(decoded []recoveryShare, t int) (*oprf.PrivateKey, error) {
	g := group.Ristretto255
	xs := make([]group.Scalar, len(decoded))
	ys := make([]group.Scalar, len(decoded))
	defer func() {
		for _, y := range ys {
			clearScalar(y)
		}
	}()
	for i, d := range decoded {
		xs[i] = g.NewScalar().SetUint64(uint64(d.id))
		ys[i] = g.NewScalar()
		if err := ys[i].UnmarshalBinary(d.value); err != nil {
			return nil, fmt.Errorf("%w: share %d: the share value is not valid", ErrShare, i+1)
		}
	}
	ss := make([]secretsharing.Share, t)
	for i := range ss {
		ss[i] = secretsharing.Share{ID: xs[i], Value: ys[i]}
	}
	s, err := secretsharing.Recover(uint(t-1), ss)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrShare, err)
	}
	defer clearScalar(s)
	if len(decoded) > t {
		l := polynomial.NewLagrangePolynomial(xs[:t], ys[:t])
		for j := t; j < len(decoded); j++ {
			v := l.Evaluate(xs[j])
			ok := v.IsEqual(ys[j])
			clearScalar(v)
			if !ok {
				return nil, fmt.Errorf("%w: share %d does not agree with shares 1 to %d", ErrShare, j+1, t)
			}
		}
	}

	kb, err := s.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrShare, err)
	}
	defer secret.Clear(kb)
	k, err := oprf.ParsePrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("%w: the shares give no valid key: one of them is wrong", ErrShare)
	}
	tag := groupTag(k.Public())
	if subtle.ConstantTimeCompare(tag[:], decoded[0].tag[:]) != 1 {
		k.Destroy()
		return nil, fmt.Errorf("%w: the recovered key does not match the kit: one of the shares is wrong", ErrShare)
	}
	return k, nil
}

// encodeShare returns the printable text of a share.
func encodeShare(d recoveryShare) string {
	p := make([]byte, 0, sharePayload)
	p = append(p, recoveryVersion, d.t, d.n, d.id)
	p = append(p, d.value...)
	p = append(p, d.tag[:]...)
	sum := sha256.Sum256(p)
	p = append(p, sum[:checksumSize]...)
	body := shareBase32.EncodeToString(p)
	secret.Clear(p)

	var b strings.Builder
	b.Grow(len(recoveryPrefix) + len(body) + len(body)/shareGroupChars)
	b.WriteString(recoveryPrefix)
	for i := 0; i < len(body); i += shareGroupChars {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(body[i:min(i+shareGroupChars, len(body))])
	}
	return b.String()
}

// decodeShare parses one share's text. Its errors are plain reasons; the
// caller wraps them with ErrShare and the share's position.
func decodeShare(text string) (recoveryShare, error) {
	norm := strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToUpper(r)
	}, text)
	const tagText = "ASSENTRECOVERYV"
	rest, ok := strings.CutPrefix(norm, tagText)
	if !ok {
		return recoveryShare{}, fmt.Errorf("not an Assent recovery share (it must start with %q)", recoveryPrefix)
	}
	body, ok := strings.CutPrefix(rest, "1")
	if !ok {
		return recoveryShare{}, fmt.Errorf("unsupported version: this program reads %q shares", recoveryPrefix)
	}
	if len(body) != shareBase32.EncodedLen(sharePayload) {
		return recoveryShare{}, fmt.Errorf("has %d characters after the prefix, want %d: characters are missing or extra",
			len(body), shareBase32.EncodedLen(sharePayload))
	}
	p, err := shareBase32.DecodeString(body)
	if err != nil {
		return recoveryShare{}, errors.New("contains a character that is not A-Z or 2-7")
	}
	defer secret.Clear(p)
	sum := sha256.Sum256(p[:sharePayload-checksumSize])
	// The last character carries 3 unused bits: a share is valid only in its
	// one canonical spelling, so that every typo is caught.
	if subtle.ConstantTimeCompare(sum[:checksumSize], p[sharePayload-checksumSize:]) != 1 || shareBase32.EncodeToString(p) != body {
		return recoveryShare{}, errors.New("checksum mismatch: the share was mistyped")
	}
	if p[0] != recoveryVersion {
		return recoveryShare{}, fmt.Errorf("unsupported version %d: this program reads version %d", p[0], recoveryVersion)
	}
	d := recoveryShare{t: p[1], n: p[2], id: p[3]}
	if d.t < 2 || d.n < d.t || d.id == 0 || d.id > d.n {
		return recoveryShare{}, fmt.Errorf("corrupt header (%d-of-%d, share number %d)", d.t, d.n, d.id)
	}
	d.value = append([]byte(nil), p[shareHeaderSize:shareHeaderSize+oprf.ScalarSize]...)
	copy(d.tag[:], p[shareHeaderSize+oprf.ScalarSize:])
	return d, nil
}

// keyScalar returns the scalar of an oprf private key in circl's group API.
func keyScalar(k *oprf.PrivateKey) (group.Scalar, error) {
	kb := k.Bytes()
	defer secret.Clear(kb)
	s := group.Ristretto255.NewScalar()
	if err := s.UnmarshalBinary(kb); err != nil {
		return nil, fmt.Errorf("threshold: splitting the device share: %w", oprf.ErrDestroyed)
	}
	return s, nil
}

// clearScalar overwrites a scalar with zero, best effort.
func clearScalar(s group.Scalar) {
	if s != nil {
		s.SetUint64(0)
	}
}

// groupTag names the kit: the first bytes of SHA-256 of the key's public
// key, so that shares of different keys are told apart before recovery and
// the recovered key can be checked.
func groupTag(pk *oprf.PublicKey) [groupTagSize]byte {
	sum := sha256.Sum256(pk.Bytes())
	var tag [groupTagSize]byte
	copy(tag[:], sum[:])
	return tag
}
