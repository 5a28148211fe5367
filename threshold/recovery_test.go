package threshold

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/assent-dev/assent/oprf"
)

func splitKey(t testing.TB, seed string, tt, n int) (*oprf.PrivateKey, []string) {
	t.Helper()
	k, err := oprf.GenerateKey(testRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	shares, err := SplitRecovery(testRand(seed+"split"), k, tt, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(shares) != n {
		t.Fatalf("SplitRecovery gave %d shares, want %d", len(shares), n)
	}
	return k, shares
}

func mustRecover(t *testing.T, k *oprf.PrivateKey, shares []string) {
	t.Helper()
	got, err := Recover(shares)
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if !bytes.Equal(got.Bytes(), k.Bytes()) {
		t.Fatal("Recover returned another key")
	}
}

// subsets calls f with every subset of size m of 0..n-1.
func subsets(n, m int, f func([]int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == m {
			f(cur)
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

func TestRecoverEverySubset(t *testing.T) {
	for _, kit := range []struct{ t, n int }{{2, 2}, {2, 3}, {3, 5}, {4, 6}} {
		k, shares := splitKey(t, fmt.Sprint(kit), kit.t, kit.n)
		for m := kit.t; m <= kit.n; m++ {
			subsets(kit.n, m, func(idx []int) {
				pick := make([]string, 0, len(idx))
				for i := len(idx) - 1; i >= 0; i-- { // in reverse order too
					pick = append(pick, shares[idx[i]])
				}
				mustRecover(t, k, pick)
			})
		}
	}
}

func TestRecoverLargeKit(t *testing.T) {
	k, shares := splitKey(t, "large", 255, 255)
	mustRecover(t, k, shares)
	if _, err := Recover(shares[1:]); !errors.Is(err, ErrShare) {
		t.Fatalf("254 of a 255-of-255 kit: %v", err)
	}
}

func TestShareText(t *testing.T) {
	k, shares := splitKey(t, "text", 2, 3)
	for i, s := range shares {
		rest, ok := strings.CutPrefix(s, "assent-recovery-v1-")
		if !ok {
			t.Fatalf("share %q lacks the prefix", s)
		}
		groups := strings.Split(rest, "-")
		if len(groups) != 15 { // 71 characters in groups of 5
			t.Fatalf("share %q has %d groups", s, len(groups))
		}
		for j, g := range groups {
			if len(g) != 5 && !(j == 14 && len(g) == 1) || strings.ToUpper(g) != g {
				t.Fatalf("share %q: group %q", s, g)
			}
		}
		p, err := shareBase32.DecodeString(strings.Join(groups, ""))
		if err != nil || len(p) != 44 {
			t.Fatalf("share payload: %d bytes, %v", len(p), err)
		}
		pub := k.Public().Bytes()
		tag := sha256.Sum256(pub)
		sum := sha256.Sum256(p[:40])
		if p[0] != 1 || p[1] != 2 || p[2] != 3 || p[3] != byte(i+1) ||
			!bytes.Equal(p[36:40], tag[:4]) || !bytes.Equal(p[40:], sum[:4]) {
			t.Fatalf("share %d payload %x is not version||t||n||id||value||tag||checksum", i, p)
		}
	}

	// Typed back by hand: any case, spaces or no dashes.
	messy := []string{
		strings.ToLower(shares[0]),
		strings.ReplaceAll(shares[2], "-", " "),
		"\t" + strings.ReplaceAll(shares[1], "-", "") + "\n",
	}
	mustRecover(t, k, messy[:2])
	mustRecover(t, k, messy[1:])
}

func TestRecoverErrors(t *testing.T) {
	k, shares := splitKey(t, "errors", 3, 5)
	_, otherKit := splitKey(t, "other", 3, 5)
	// A second split of the same key: same tag, other polynomial.
	resplit, err := SplitRecovery(testRand("again"), k, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	_, otherShape := splitKey(t, "errors", 2, 5) // same key, other t

	for _, tc := range []struct {
		name   string
		shares []string
		msg    string
	}{
		{"none", nil, "no shares given"},
		{"too few", shares[:2], "this 3-of-5 kit needs 3 shares, 2 given"},
		{"one", shares[3:4], "needs 3 shares, 1 given"},
		{"duplicate", []string{shares[0], shares[1], shares[0]}, "shares 1 and 3 are both share number 1"},
		{"duplicate retyped", []string{shares[4], strings.ToLower(shares[4]), shares[1]}, "shares 1 and 2 are both share number 5"},
		{"other kit", []string{shares[0], shares[1], otherKit[2]}, "share 3 is from another recovery kit"},
		{"other t", []string{shares[0], otherShape[1], shares[2]}, "share 2 is from another recovery kit"},
		{"mixed splits of one key", []string{shares[0], shares[1], resplit[2]}, "does not match the kit"},
		{"extra share disagrees", []string{shares[0], shares[1], shares[2], resplit[3]}, "share 4 does not agree with shares 1 to 3"},
		{"garbage", []string{"hello", shares[0], shares[1]}, "share 1: not an Assent recovery share"},
		{"empty text", []string{shares[0], "", shares[1]}, "share 2: not an Assent recovery share"},
		{"v2 prefix", []string{strings.Replace(shares[0], "-v1-", "-v2-", 1), shares[1], shares[2]}, "share 1: unsupported version"},
		{"missing char", []string{shares[0][:len(shares[0])-1], shares[1], shares[2]}, "characters are missing or extra"},
		{"extra char", []string{shares[0], shares[1] + "A", shares[2]}, "characters are missing or extra"},
		{"bad char", []string{shares[0], shares[1], replaceAt(shares[2], 25, '8')}, "not A-Z or 2-7"},
	} {
		got, err := Recover(tc.shares)
		if !errors.Is(err, ErrShare) || got != nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v; want ErrShare saying %q", tc.name, err, tc.msg)
		}
	}
}

func replaceAt(s string, i int, c byte) string {
	b := []byte(s)
	b[i] = c
	return string(b)
}

// Every single-character typo and every swap of neighbours is caught.
func TestRecoverCatchesTypos(t *testing.T) {
	k, shares := splitKey(t, "typos", 2, 2)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	s := shares[0]
	body := len("assent-recovery-v1-")
	for i := body; i < len(s); i++ {
		if s[i] == '-' {
			continue
		}
		for _, c := range []byte(alphabet) {
			if c == s[i] {
				continue
			}
			if _, err := Recover([]string{replaceAt(s, i, c), shares[1]}); !errors.Is(err, ErrShare) ||
				!strings.Contains(err.Error(), "share 1: checksum mismatch") {
				t.Fatalf("typo %c at %d: %v", c, i, err)
			}
		}
		if j := i + 1; j < len(s) && s[j] != '-' && s[j] != s[i] {
			swapped := replaceAt(replaceAt(s, i, s[j]), j, s[i])
			if _, err := Recover([]string{swapped, shares[1]}); !errors.Is(err, ErrShare) {
				t.Fatalf("swap at %d: %v", i, err)
			}
		}
	}
	mustRecover(t, k, shares)
}

// craftShare encodes a payload with a valid checksum, for headers and values
// SplitRecovery never writes.
func craftShare(version, tt, n, id byte, value []byte) string {
	p := append([]byte{version, tt, n, id}, value...)
	p = append(p, 1, 2, 3, 4)
	sum := sha256.Sum256(p)
	return recoveryPrefix + shareBase32.EncodeToString(append(p, sum[:4]...))
}

func TestRecoverCraftedShares(t *testing.T) {
	value := make([]byte, 32)
	value[0] = 1
	good := craftShare(1, 2, 3, 2, value)
	for _, tc := range []struct {
		name  string
		share string
		msg   string
	}{
		{"version 2", craftShare(2, 2, 3, 1, value), "unsupported version 2"},
		{"version 0", craftShare(0, 2, 3, 1, value), "unsupported version 0"},
		{"t of 1", craftShare(1, 1, 3, 1, value), "corrupt header"},
		{"n below t", craftShare(1, 3, 2, 1, value), "corrupt header"},
		{"id 0", craftShare(1, 2, 3, 0, value), "corrupt header"},
		{"id over n", craftShare(1, 2, 3, 4, value), "corrupt header"},
		{"value not canonical", craftShare(1, 2, 3, 1, bytes.Repeat([]byte{0xff}, 32)), "share value is not valid"},
	} {
		_, err := Recover([]string{tc.share, good})
		if !errors.Is(err, ErrShare) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.msg)
		}
	}
	// Consistent shares whose key does not match the tag.
	if _, err := Recover([]string{craftShare(1, 2, 3, 1, value), good}); !errors.Is(err, ErrShare) ||
		!strings.Contains(err.Error(), "one of the shares is wrong") {
		t.Errorf("wrong tag: %v", err)
	}
}

func TestSplitRecoveryBadParameters(t *testing.T) {
	k, _ := oprf.GenerateKey(testRand("params"))
	for _, p := range [][2]int{{1, 3}, {0, 0}, {-1, 2}, {4, 3}, {2, 256}, {256, 256}} {
		if s, err := SplitRecovery(testRand("x"), k, p[0], p[1]); !errors.Is(err, ErrShare) || s != nil {
			t.Errorf("%d-of-%d: %v, want ErrShare", p[0], p[1], err)
		}
	}
	k.Destroy()
	if _, err := SplitRecovery(testRand("x"), k, 2, 3); !errors.Is(err, oprf.ErrDestroyed) {
		t.Errorf("destroyed key: %v", err)
	}
}

func FuzzRecover(f *testing.F) {
	k, shares := splitKey(f, "fuzz", 2, 3)
	f.Add(shares[0], shares[1])
	f.Add(strings.ToLower(shares[2]), shares[0])
	f.Add(craftShare(2, 2, 3, 1, make([]byte, 32)), shares[1])
	f.Add("assent-recovery-v1-", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := Recover([]string{a, b})
		if err != nil {
			if !errors.Is(err, ErrShare) || got != nil {
				t.Fatalf("Recover failed with %v", err)
			}
			return
		}
		// Anything accepted must give a key whose tag the shares carry; the
		// only kit in reach is the seeded one.
		if !bytes.Equal(got.Bytes(), k.Bytes()) {
			t.Fatalf("Recover(%q, %q) gave a key of no kit", a, b)
		}
	})
}

// Whatever text decodes is one canonical share: encoding it again and
// decoding gives the same fields.
func FuzzDecodeShare(f *testing.F) {
	_, shares := splitKey(f, "fuzz decode", 3, 4)
	for _, s := range shares {
		f.Add(s)
	}
	f.Add(strings.ToLower(shares[0]))
	f.Add(craftShare(1, 2, 3, 9, make([]byte, 32)))
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		d, err := decodeShare(text)
		if err != nil {
			return
		}
		again, err := decodeShare(encodeShare(d))
		if err != nil || again.t != d.t || again.n != d.n || again.id != d.id || again.tag != d.tag || !bytes.Equal(again.value, d.value) {
			t.Fatalf("share %q does not survive re-encoding: %v", text, err)
		}
	})
}
