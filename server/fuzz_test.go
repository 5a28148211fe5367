package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
)

func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"ABCDE-FGHIJ-KLMNO-PQRST", "abcde fghij klmno pqrst", "ABCDEFGHIJKLMNOPQRST", "", "-", "ABCDE-FGHIJ-KLMNO-PQRS1", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := normalizeCode(s)
		if !ok {
			return
		}
		if len(code) != enrollmentCodeLen || strings.Trim(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("normalizeCode(%q) = %q", s, code)
		}
		// What the server shows normalizes back to itself.
		if again, ok := normalizeCode(groupCode(code)); !ok || again != code {
			t.Fatalf("grouped %q normalizes to %q", groupCode(code), again)
		}
	})
}

func FuzzAPIKeyPrefix(f *testing.F) {
	f.Add("assent_abcdefghijkl_" + strings.Repeat("a", apiKeySecretLen))
	f.Add("assent_")
	f.Add("")
	f.Fuzz(func(t *testing.T, key string) {
		prefix, ok := apiKeyPrefix(key)
		if ok && (len(key) != apiKeyLen || prefix != key[len(apiKeyTag):len(apiKeyTag)+apiKeyPrefixLen]) {
			t.Fatalf("apiKeyPrefix(%q) = %q", key, prefix)
		}
	})
}

// FuzzDecodeJSON: any body decodes or is refused with a 4xx, never a 5xx or
// a panic.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"decision":"approve","evaluated_elements":["AAAA"],"proof":"AAAA","signature":"AAAA"}`,
		`{"decision":"deny"}`, `{"decision":"deny","reason":"match_failed"}`, `{}`, `[]`, `null`, `{"x":1}`, `{"proof":"%%%"}`, `{} {}`, `{`, "",
	} {
		f.Add([]byte(s))
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		c := e.NewContext(req, httptest.NewRecorder())
		var v api.DeviceResponse
		err := decodeJSON(c, &v)
		if err == nil {
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.kind.Status < 400 || ae.kind.Status > 499 {
			t.Fatalf("decodeJSON(%q): %v", body, err)
		}
	})
}
