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

// TestREADMEDeviceCommands: the README's table of `assent device` commands
// lists exactly the commands of deviceCommands.
func TestREADMEDeviceCommands(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "Its commands (`assent device help`):")
	if !ok {
		t.Fatal("README has no table of device commands")
	}
	table, _, _ = strings.Cut(table, "\n\n## ")
	listed := map[string]bool{}
	for _, line := range strings.Split(table, "\n") {
		if rest, ok := strings.CutPrefix(line, "| `"); ok {
			name, _, _ := strings.Cut(rest, " ")
			listed[strings.TrimSuffix(name, "`")] = true
		}
	}
	for name := range deviceCommands {
		if !listed[name] {
			t.Errorf("README's device command table lacks %q", name)
		}
	}
	for name := range listed {
		if _, ok := deviceCommands[name]; !ok {
			t.Errorf("README's device command table lists %q, which assent device lacks", name)
		}
	}
}
