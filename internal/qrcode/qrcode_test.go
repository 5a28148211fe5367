package qrcode

import (
	"crypto/rand"
	"fmt"
	"reflect"
	"testing"

	upstream "github.com/skip2/go-qrcode"
)

// The fork draws the upstream package's QR codes, module for module, at
// every recovery level, for contents like the pairing strings it shows
// (and others: empty, numeric, alphanumeric, long binary), and refuses
// what upstream refuses.
func TestSameAsUpstream(t *testing.T) {
	contents := []string{"", "0123456789", "HELLO WORLD $%*+-./:", "assent-pairing:dev_x:ABCDEFGH"}
	for i := 0; i < 20; i++ {
		b := make([]byte, 1+i*67)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		contents = append(contents, fmt.Sprintf("assent-pairing:dev_%x:%X", b[:1], b), string(b))
	}
	contents = append(contents, string(make([]byte, 3000))) // too long for any version
	for _, s := range contents {
		for _, level := range []RecoveryLevel{Low, Medium, High, Highest} {
			q, err := New(s, level)
			u, uerr := upstream.New(s, upstream.RecoveryLevel(level))
			if (err == nil) != (uerr == nil) {
				t.Fatalf("len %d level %d: fork %v, upstream %v", len(s), level, err, uerr)
			}
			if err != nil {
				continue
			}
			q.DisableBorder, u.DisableBorder = true, true
			if !reflect.DeepEqual(q.Bitmap(), u.Bitmap()) {
				t.Fatalf("len %d level %d: the fork's QR code differs from upstream's", len(s), level)
			}
			if q.ToSmallString(false) != u.ToSmallString(false) {
				t.Fatalf("len %d level %d: ToSmallString differs", len(s), level)
			}
		}
	}
}
