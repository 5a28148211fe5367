package api

import (
	"net/http"
	"testing"
)

// The plain status numbers of errors.go are net/http's.
func TestStatusNumbersAreNetHTTPs(t *testing.T) {
	for got, want := range map[int]int{
		statusBadRequest: http.StatusBadRequest, statusUnauthorized: http.StatusUnauthorized,
		statusForbidden: http.StatusForbidden, statusNotFound: http.StatusNotFound,
		statusMethodNotAllowed: http.StatusMethodNotAllowed, statusConflict: http.StatusConflict,
		statusGone: http.StatusGone, statusRequestEntityTooLarge: http.StatusRequestEntityTooLarge,
		statusTooManyRequests: http.StatusTooManyRequests, statusInternalServerError: http.StatusInternalServerError,
		statusServiceUnavailable: http.StatusServiceUnavailable,
	} {
		if got != want {
			t.Errorf("status %d, net/http says %d", got, want)
		}
	}
}
