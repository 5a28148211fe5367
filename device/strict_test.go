package device

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/strictjson"
)

// TestHostileServerJSON: the device refuses answers that two parsers
// would read differently: a key twice, or a key in another case than the
// wire's (which encoding/json would take for the field), at any depth.
func TestHostileServerJSON(t *testing.T) {
	const q = `{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa","kind":"create","user_id":"usr_aaaaaaaaaaaaaaaaaaaaaaaaaa",` +
		`"record_id":"0190a0b0-c0d0-7e0f-8a0b-0c0d0e0f1011","requester":{"id":"cli_x","name":"clinic"%s},"purpose":"p"%s}`
	for name, body := range map[string]string{
		"duplicate":        `{"requests":[` + fmt.Sprintf(q, "", `,"purpose":"other"`) + `]}`,
		"other case":       `{"requests":[` + fmt.Sprintf(q, "", `,"PURPOSE":"other"`) + `]}`,
		"nested case":      `{"requests":[` + fmt.Sprintf(q, `,"Name":"bank"`, "") + `]}`,
		"list key twice":   `{"requests":[],"requests":[]}`,
		"trailing":         `{"requests":[]} {}`,
		"invalid UTF-8":    "{\"requests\":[],\"x\":\"\xff\"}",
		"folded list name": `{"REQUESTS":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(body))
			}))
			defer srv.Close()
			id := newIdentity(t, srv.URL)
			defer id.Destroy()
			c, err := NewClient(srv.URL, id, ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.PendingRequests(context.Background()); !errors.Is(err, ErrProtocol) {
				t.Fatalf("err = %v, want ErrProtocol", err)
			}
		})
	}
	// An unknown field is allowed: the server may add some.
	var l api.DeviceRequestList
	if err := decodeJSON([]byte(`{"requests":[],"next":"x"}`), &l); err != nil {
		t.Fatal(err)
	}
	if err := decodeJSON([]byte(`{"requests":[],"Requests":[]}`), &l); !errors.Is(err, strictjson.ErrKeyCase) {
		t.Fatalf("err = %v", err)
	}
}
