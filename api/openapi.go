package api

import _ "embed" // for OpenAPIJSON

//go:generate go run ./internal/openapijson/gen

// OpenAPIJSON is the OpenAPI 3.1 document of the API (openapi.yaml in this
// directory, converted by `go generate`), served at GET /v1/openapi.json.
//
//go:embed openapi.json
var OpenAPIJSON []byte
