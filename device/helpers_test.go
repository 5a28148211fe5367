package device

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

// cheapKDF keeps keystore tests fast; DefaultKDFParams is tested once.
var cheapKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// newIdentity returns a fresh identity as enrollment would leave it.
func newIdentity(t testing.TB, serverURL string) *Identity {
	t.Helper()
	k, err := oprf.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	did, _ := ids.New(ids.Device, rand.Reader)
	uid, _ := ids.New(ids.User, rand.Reader)
	return &Identity{DeviceID: did, UserID: uid, ServerURL: serverURL,
		DeviceKeyID: threshold.DeviceKeyID(k.Public().Bytes()), OPRFKey: k, SigningKey: sk}
}

func mustID(t testing.TB, prefix string) string {
	t.Helper()
	id, err := ids.New(prefix, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
