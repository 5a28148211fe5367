package threshold

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
)

// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte).
var rfc8032 = []struct{ seed, pub, msg, sig string }{
	{
		"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		"",
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
	},
	{
		"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		"72",
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
	},
}

func TestSignVerifyRFC8032(t *testing.T) {
	for i, v := range rfc8032 {
		sk := ed25519.NewKeyFromSeed(unhex(t, v.seed))
		pub, msg, sig := unhex(t, v.pub), unhex(t, v.msg), unhex(t, v.sig)
		if got := Sign(sk, msg); !bytes.Equal(got, sig) {
			t.Errorf("vector %d: Sign = %x, want %x", i, got, sig)
		}
		if err := Verify(pub, msg, sig); err != nil {
			t.Errorf("vector %d: Verify: %v", i, err)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	v := rfc8032[1]
	pub, msg, sig := unhex(t, v.pub), unhex(t, v.msg), unhex(t, v.sig)
	otherPub := unhex(t, rfc8032[0].pub)
	flip := func(b []byte, i int) []byte {
		c := append([]byte{}, b...)
		c[i] ^= 1
		return c
	}
	for name, c := range map[string]struct{ pub, msg, sig []byte }{
		"other message": {pub, []byte("s"), sig},
		"empty message": {pub, nil, sig},
		"other key":     {otherPub, msg, sig},
		"flipped R":     {pub, msg, flip(sig, 0)},
		"flipped S":     {pub, msg, flip(sig, 40)},
		"short sig":     {pub, msg, sig[:63]},
		"long sig":      {pub, msg, append(append([]byte{}, sig...), 0)},
		"nil sig":       {pub, msg, nil},
		"short key":     {pub[:31], msg, sig},
		"nil key":       {nil, msg, sig},
	} {
		if err := Verify(c.pub, c.msg, c.sig); err != ErrSignature {
			t.Errorf("%s: Verify = %v, want exactly ErrSignature", name, err)
		}
	}
}

func TestDeviceAuthMessage(t *testing.T) {
	got := DeviceAuthMessage("GET", "/v1/device/requests?state=pending", "1700000000", "AAECAwQFBgcICQoLDA0ODw==", nil)
	want := "assent/device-auth/v1\nGET\n/v1/device/requests?state=pending\n1700000000\nAAECAwQFBgcICQoLDA0ODw==\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // SHA-256 of nothing
	if string(got) != want {
		t.Fatalf("DeviceAuthMessage =\n%q\nwant\n%q", got, want)
	}
	got = DeviceAuthMessage("POST", "/v1/device/requests/req_1/response", "1", "n", []byte("abc"))
	if !strings.HasSuffix(string(got), "\nn\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") ||
		!strings.HasPrefix(string(got), "assent/device-auth/v1\nPOST\n") {
		t.Fatalf("DeviceAuthMessage with body = %q", got)
	}
}

func TestDeviceKeyID(t *testing.T) {
	if got, want := DeviceKeyID([]byte("abc")), "ba7816bf8f01cfea414140de5dae2223"; got != want {
		t.Fatalf("DeviceKeyID = %s, want %s", got, want)
	}
}
