package push

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/assent-dev/assent/internal/ids"
)

// TestWebhookClose: Close clears the webhook's copy of the secret (a
// []byte, as every secret), later pushes fail with ErrClosed and send
// nothing.
func TestWebhookClose(t *testing.T) {
	rl := newRelay(t, http.StatusNoContent)
	w := rl.webhook(t)
	req := newID(t, ids.Request)
	held := w.secret
	if err := w.Notify(context.Background(), "", req); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w.Close()
	for _, b := range held {
		if b != 0 {
			t.Fatal("Close left the secret in memory")
		}
	}
	if err := w.Notify(context.Background(), "", req); !errors.Is(err, ErrClosed) {
		t.Fatalf("Notify after Close: %v", err)
	}
	if rl.attempts() != 1 {
		t.Errorf("%d posts, want 1", rl.attempts())
	}
}
