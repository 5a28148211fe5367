// Command gen writes api/openapi.json from api/openapi.yaml; `go generate
// ./api` runs it.
package main

import (
	"fmt"
	"os"

	"github.com/assent-dev/assent/api/internal/openapijson"
)

func main() {
	in, err := os.ReadFile("openapi.yaml")
	if err == nil {
		var out []byte
		if out, err = openapijson.Convert(in); err == nil {
			err = os.WriteFile("openapi.json", out, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
