// Package openapijson converts api/openapi.yaml to the JSON that the server
// serves at /v1/openapi.json. It lives apart from package api so that api
// stays standard library only: the conversion runs at `go generate` time
// (gen.go) and in api's tests, which check the committed JSON is current.
package openapijson

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v4"
)

// Convert returns the JSON of a YAML document, indented, keys sorted.
func Convert(doc []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("openapijson: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("openapijson: %w", err)
	}
	return buf.Bytes(), nil
}
