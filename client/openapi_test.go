package client_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/client"
	"github.com/assent-dev/assent/internal/openapicheck"
)

// TestValidatorCatches: the validator is not a rubber stamp: an answer
// missing a required field, an undocumented status and an unknown path are
// each reported.
func TestValidatorCatches(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case api.PathUsers:
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"user_id":"usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`)
		default:
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, `{}`)
		}
	}))
	defer srv.Close()
	for _, call := range []func(c *client.Client) error{
		func(c *client.Client) error { _, err := c.CreateUser(t.Context(), "x", "y"); return err },
		func(c *client.Client) error {
			_, err := c.NewEnrollment(t.Context(), "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa")
			return err
		},
		func(c *client.Client) error {
			_, err := c.Devices(t.Context(), "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa/x")
			return err
		},
	} {
		v, err := openapicheck.New(nil)
		check(t, err)
		c, err := client.New(srv.URL, "k", &client.Options{HTTPClient: &http.Client{Transport: v}})
		check(t, err)
		_ = call(c)
		if len(v.Problems()) == 0 {
			t.Errorf("the validator let a bad exchange pass")
		}
	}
}
