package api_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/api/internal/openapijson"
)

// TestOpenAPICurrent: the embedded JSON is openapi.yaml converted (run
// `go generate ./api` after editing the YAML).
func TestOpenAPICurrent(t *testing.T) {
	y, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := openapijson.Convert(y)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(api.OpenAPIJSON, want) {
		t.Fatal("api/openapi.json is not openapi.yaml converted: run go generate ./api")
	}
}

// TestOpenAPIValid: the document loads and validates as OpenAPI 3.1, and
// names every error code of package api.
func TestOpenAPIValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	codes := doc.Components.Schemas["ErrorBody"].Value.Properties["error"].Value.Properties["code"].Value.Enum
	for _, e := range api.Errors {
		found := false
		for _, c := range codes {
			found = found || c == e.Code
		}
		if !found {
			t.Errorf("error code %s is not in the document", e.Code)
		}
	}
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIJSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return doc
}
