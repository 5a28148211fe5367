package push

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/assent-dev/assent/internal/ids"
)

func TestDecodePayload(t *testing.T) {
	req := newID(t, ids.Request)
	got, err := DecodePayload([]byte(`{"request_id":"` + req + `"}`))
	if err != nil || got != req {
		t.Fatalf("DecodePayload = %q, %v", got, err)
	}
	for _, in := range []string{
		``, `null`, `{}`, `[]`, `"` + req + `"`,
		`{"request_id":"req_x"}`,
		`{"request_id":"` + newID(t, ids.Session) + `"}`,
		`{"request_id":"` + req + `","user_id":"usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`,
		`{"request_id":"` + req + `"}` + "\n",
		` {"request_id":"` + req + `"}`,
		`{"request_id": "` + req + `"}`,
		`{"REQUEST_ID":"` + req + `"}`,
		`{"request_id":"x","request_id":"` + req + `"}`,
		`{"request_id":"\u0072` + req[1:] + `"}`,
		`{"request_id":"` + req + `"}{}`,
		`{"request_id":"` + req + `"`,
	} {
		if got, err := DecodePayload([]byte(in)); !errors.Is(err, ErrPayload) || got != "" {
			t.Errorf("DecodePayload(%q) = %q, %v; want ErrPayload", in, got, err)
		}
	}
}

func FuzzDecodePayload(f *testing.F) {
	f.Add([]byte(`{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`))
	f.Add([]byte(`{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa","x":1}`))
	f.Add([]byte(`{"Request_Id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		id, err := DecodePayload(in)
		if err != nil {
			if !errors.Is(err, ErrPayload) || id != "" {
				t.Fatalf("%q, %v", id, err)
			}
			return
		}
		// Only the one canonical encoding of a valid id is accepted.
		want, err := encodePayload(id)
		if err != nil || string(want) != string(in) {
			t.Fatalf("accepted %q as %q", in, id)
		}
	})
}

func TestMultiNotifiesAllAndJoinsErrors(t *testing.T) {
	hs := newHubServer(t, HubOptions{})
	user := newID(t, ids.User)
	events := hs.subscribeNew(t, user)
	refusing, broken, working := newRelay(t, http.StatusForbidden), newRelay(t, http.StatusServiceUnavailable), newRelay(t)

	n := Multi(refusing.webhook(t), nil, broken.webhook(t, fastRetry), hs.hub, working.webhook(t))
	req := newID(t, ids.Request)
	err := n.Notify(t.Context(), user, req)
	if !errors.Is(err, ErrWebhookStatus) || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Notify = %v, want both webhook failures joined", err)
	}
	if got := next(t, events); got != req {
		t.Fatalf("hub subscriber got %q, want %q", got, req)
	}
	if working.attempts() != 1 || working.badSignatures() != 0 {
		t.Fatalf("working relay: %d attempts, %d bad signatures", working.attempts(), working.badSignatures())
	}

	if err := Multi().Notify(t.Context(), user, req); err != nil {
		t.Fatalf("empty Multi: %v", err)
	}
	if err := Multi(hs.hub).Notify(t.Context(), user, "bad"); !errors.Is(err, ids.ErrMalformed) {
		t.Fatalf("Multi passes on errors: %v", err)
	}
}
