package device

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/oprf"
)

func testBundle(t testing.TB) *Bundle {
	t.Helper()
	k, err := oprf.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Destroy()
	uid, _ := ids.New(ids.User, rand.Reader)
	did, _ := ids.New(ids.Device, rand.Reader)
	return &Bundle{
		Version: BundleVersion, UserID: uid, DeviceKey: k.Bytes(),
		Ledger:    nil,
		AuditHead: &BundleHead{Seq: 7, Hash: bytes.Repeat([]byte{1}, 32)},
		Devices: []BundleDevice{{DeviceID: did, DeviceKeyID: strings.Repeat("0f", 16),
			State: "active", SigningPublicKey: bytes.Repeat([]byte{2}, 32)}},
	}
}

// TestDecodeBundle: a bundle round-trips; every malformed one is refused
// with ErrTransfer.
func TestDecodeBundle(t *testing.T) {
	good, err := MarshalBundle(testBundle(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeBundle(good)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(b); !bytes.Equal(again, good) {
		t.Fatalf("round trip: %s, want %s", again, good)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
	dev := func(m map[string]any) map[string]any { return m["devices"].([]any)[0].(map[string]any) }
	for name, data := range map[string][]byte{
		"trailing bytes":   append(bytes.Clone(good), []byte(` {}`)...),
		"unknown field":    edit(func(m map[string]any) { m["extra"] = 1 }),
		"version 2":        edit(func(m map[string]any) { m["version"] = 2 }),
		"short device key": edit(func(m map[string]any) { m["device_key"] = "AAAA" }),
		"zero device key":  edit(func(m map[string]any) { m["device_key"] = strings.Repeat("A", 43) + "=" }),
		"bad user":         edit(func(m map[string]any) { m["user_id"] = "dev_x" }),
		"short head hash":  edit(func(m map[string]any) { m["audit_head"] = map[string]any{"seq": 1, "hash": "AAAA"} }),
		"head seq 0":       edit(func(m map[string]any) { m["audit_head"].(map[string]any)["seq"] = 0 }),
		"no devices":       edit(func(m map[string]any) { m["devices"] = []any{} }),
		"short signing":    edit(func(m map[string]any) { dev(m)["signing_public_key"] = "AAAA" }),
		"bad key id":       edit(func(m map[string]any) { dev(m)["device_key_id"] = "XYZ" }),
		"device unknown":   edit(func(m map[string]any) { dev(m)["extra"] = true }),
		"no state":         edit(func(m map[string]any) { dev(m)["state"] = "" }),
		"device twice":     edit(func(m map[string]any) { m["devices"] = append(m["devices"].([]any), dev(m)) }),
		"repeated key":     []byte(`{"version":1,"version":1}`),
		"not json":         []byte("nope"),
	} {
		if _, err := DecodeBundle(data); !errors.Is(err, ErrTransfer) {
			t.Errorf("%s: %v, want ErrTransfer", name, err)
		}
	}
}

func FuzzDecodeBundle(f *testing.F) {
	good, err := MarshalBundle(testBundle(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBundle(data)
		if err != nil {
			if !errors.Is(err, ErrTransfer) {
				t.Fatalf("error %v does not wrap ErrTransfer", err)
			}
			return
		}
		again, err := MarshalBundle(b)
		if err != nil {
			t.Fatalf("a decoded bundle does not marshal: %v", err)
		}
		if _, err := DecodeBundle(again); err != nil {
			t.Fatalf("a re-marshalled bundle does not decode: %v", err)
		}
	})
}
