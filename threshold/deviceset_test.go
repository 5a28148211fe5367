package threshold

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestPairingString(t *testing.T) {
	g := readGolden(t)
	id, key, err := ParsePairingString("  " + g.DeviceSet.PairingString + "\n")
	if err != nil || id != g.DeviceSet.NewDeviceID || !bytes.Equal(key, g.DeviceSet.TransferPublicKey) {
		t.Fatalf("ParsePairingString(golden) = %q, %x, %v", id, key, err)
	}
	good := g.DeviceSet.PairingString
	for name, s := range map[string]string{
		"empty":         "",
		"other prefix":  "assent-pair:v2:" + good[len(LabelPairing):],
		"no device id":  LabelPairing + ":" + good[len(good)-52:],
		"no key":        LabelPairing + "dev_x",
		"short key":     good[:len(good)-2],
		"padding":       good + "====",
		"lower case":    LabelPairing + "dev_x:" + string(bytes.ToLower([]byte(good[len(good)-52:]))),
		"trailing bits": good[:len(good)-1] + "R", // the last character carries 4 spare bits
		"key too long":  good + "AA",
		"extra field":   good + ":x",
	} {
		if _, _, err := ParsePairingString(s); !errors.Is(err, ErrStatement) {
			t.Errorf("ParsePairingString(%s) = %v, want ErrStatement", name, err)
		}
	}
}

func FuzzParsePairingString(f *testing.F) {
	f.Add("assent-pair:v1:dev_goldenvectorsnewdevice00:NYHMVPVL5PYW2EIZPTWIKWFK4UN55TEUADQ7DYFJXRNSFXXPLSPQ")
	f.Add("assent-pair:v1::")
	f.Fuzz(func(t *testing.T, s string) {
		id, key, err := ParsePairingString(s)
		if err != nil {
			return
		}
		if again := PairingString(id, key); again != string(bytes.TrimSpace([]byte(s))) {
			t.Fatalf("%q parses but re-encodes as %q", s, again)
		}
	})
}

func TestKeyIDFormat(t *testing.T) {
	const id = "b3702741551a6f9fcc46f8bf508aa54e"
	grouped := FormatKeyID(id)
	if grouped != "b370 2741 551a 6f9f cc46 f8bf 508a a54e" {
		t.Fatalf("FormatKeyID = %q", grouped)
	}
	if NormalizeKeyID(" B370-2741 551a 6f9f cc46 f8bf 508a a54e ") != id {
		t.Fatal("NormalizeKeyID does not undo FormatKeyID")
	}
	if FormatKeyID("short") != "short" {
		t.Fatal("FormatKeyID changed a malformed id")
	}
}

func TestDeviceSetStatementsRefuse(t *testing.T) {
	if _, err := RevokeStatement("", "dev_x", time.Unix(1, 0)); !errors.Is(err, ErrStatement) {
		t.Errorf("RevokeStatement without a user: %v", err)
	}
	if _, err := RevokeStatement("usr_x", "dev_x", time.Unix(-1, 0)); !errors.Is(err, ErrStatement) {
		t.Errorf("RevokeStatement before 1970: %v", err)
	}
	ok := AddDeviceStatement{RequestID: "r", UserID: "u", NewDeviceID: "n", SigningPublicKey: make([]byte, 32),
		TransferKeyHash: make([]byte, 32), SenderDeviceID: "s", DeviceKeyID: "k", Decision: DecisionApprove, ExpiresAt: time.Unix(1, 0)}
	if _, err := ok.Marshal(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*AddDeviceStatement){
		"signing key": func(s *AddDeviceStatement) { s.SigningPublicKey = s.SigningPublicKey[:31] },
		"hash":        func(s *AddDeviceStatement) { s.TransferKeyHash = nil },
		"decision":    func(s *AddDeviceStatement) { s.Decision = "maybe" },
		"sender":      func(s *AddDeviceStatement) { s.SenderDeviceID = "" },
	} {
		bad := ok
		edit(&bad)
		if _, err := bad.Marshal(); !errors.Is(err, ErrStatement) {
			t.Errorf("AddDeviceStatement with a bad %s: %v", name, err)
		}
	}
	if _, err := EnrollCheckInfo("u", "d", make([]byte, 31)); !errors.Is(err, ErrStatement) {
		t.Errorf("EnrollCheckInfo with a short signing key: %v", err)
	}
}

func TestParseStatement(t *testing.T) {
	g := readGolden(t)
	s, err := ParseStatement(g.Statement.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	want := g.statement()
	if s.RequestID != want.RequestID || s.UserID != want.UserID || s.RecordID != want.RecordID ||
		!bytes.Equal(s.ContentSHA256, want.ContentSHA256) || !s.ExpiresAt.Equal(want.ExpiresAt) ||
		len(s.BlindedElements) != 1 || !bytes.Equal(s.BlindedElements[0], want.BlindedElements[0]) {
		t.Fatalf("ParseStatement(golden) = %+v, want %+v", s, want)
	}
	b := g.Statement.Bytes
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"truncated": b[:len(b)-1],
		"trailing":  append(bytes.Clone(b), 0),
		"label":     append([]byte("assent/approval/v2"), b[len(LabelApproval):]...),
		"separator": append(append([]byte(LabelApproval), 1), b[len(LabelApproval)+1:]...),
	} {
		if _, err := ParseStatement(bad); !errors.Is(err, ErrStatement) {
			t.Errorf("ParseStatement(%s) = %v, want ErrStatement", name, err)
		}
	}
}

func FuzzParseStatement(f *testing.F) {
	g := readGolden(f)
	f.Add([]byte(g.Statement.Bytes))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatement(b)
		if err != nil {
			return
		}
		again, err := s.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%x parses but re-marshals to %x, %v", b, again, err)
		}
	})
}

func TestParseAddDeviceStatement(t *testing.T) {
	g := readGolden(t)
	st, err := ParseAddDeviceStatement(g.DeviceSet.AddDevice)
	if err != nil {
		t.Fatal(err)
	}
	if st.NewDeviceID != g.DeviceSet.NewDeviceID || st.RequestID != g.DeviceSet.AddRequestID || st.SenderDeviceID != g.DeviceID ||
		!bytes.Equal(st.TransferKeyHash, g.DeviceSet.TransferKeyHash) || st.ExpiresAt.Unix() != g.DeviceSet.AddExpiresAt {
		t.Fatalf("ParseAddDeviceStatement(golden) = %+v", st)
	}
	good := g.DeviceSet.AddDevice
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"trailing":  append(bytes.Clone(good), 0),
		"label":     append([]byte("assent/add-device/v2"), good[len(LabelAddDevice):]...),
	} {
		if _, err := ParseAddDeviceStatement(b); !errors.Is(err, ErrStatement) {
			t.Errorf("ParseAddDeviceStatement(%s) = %v, want ErrStatement", name, err)
		}
	}
}

func FuzzParseAddDeviceStatement(f *testing.F) {
	f.Add([]byte(readGolden(f).DeviceSet.AddDevice))
	f.Add([]byte(LabelAddDevice + "\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseAddDeviceStatement(b)
		if err != nil {
			return
		}
		again, err := st.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("parsed statement re-marshals to %x, %v", again, err)
		}
	})
}
