package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEQuickstart: the script the README shows is docs/quickstart.sh
// byte for byte (TestQuickstart runs the file), and the README links
// nothing outside the repository.
func TestREADMEQuickstart(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "docs", "quickstart.sh"))
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- quickstart: "
	_, after, ok := strings.Cut(string(readme), marker)
	if !ok {
		t.Fatal("README has no quickstart block")
	}
	_, block, _ := strings.Cut(after, "```bash\n")
	block, _, _ = strings.Cut(block, "```\n")
	if block != string(script) {
		t.Error("README's quickstart block differs from docs/quickstart.sh: copy the script into the README")
	}
	for _, bad := range []string{"](../", "](/work", "shared/DESIGN.md"} {
		if strings.Contains(string(readme), bad) {
			t.Errorf("README links outside the repository (%q)", bad)
		}
	}
}
