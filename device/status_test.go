package device

import (
	"net/http"
	"testing"
)

// The plain methods, statuses and reason phrases of status.go are
// net/http's.
func TestStatusValuesAreNetHTTPs(t *testing.T) {
	if methodGet != http.MethodGet || methodPost != http.MethodPost {
		t.Error("methods differ from net/http's")
	}
	for got, want := range map[int]int{statusOK: http.StatusOK, statusCreated: http.StatusCreated,
		statusAccepted: http.StatusAccepted, statusTooManyRequests: http.StatusTooManyRequests} {
		if got != want {
			t.Errorf("status %d, net/http says %d", got, want)
		}
	}
	for code, text := range statusTexts {
		if want := http.StatusText(code); text != want {
			t.Errorf("statusText(%d) = %q, net/http says %q", code, text, want)
		}
	}
	if statusText(299) != "" {
		t.Error("a status not listed has a text")
	}
}
