package secret

import "testing"

func TestClear(t *testing.T) {
	a := []byte{1, 2, 3}
	b := make([]byte, 64)
	for i := range b {
		b[i] = 0xff
	}
	Clear(a, nil, b, []byte{})
	for i, v := range append(a, b...) {
		if v != 0 {
			t.Fatalf("byte %d = %#x after Clear, want 0", i, v)
		}
	}
}
