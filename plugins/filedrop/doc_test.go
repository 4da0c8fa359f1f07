package filedrop

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDocExample checks that the example configuration in doc.go, read as
// the agent reads YAML, is testdata/mem1.json, the configuration every
// test configures: the documented example is a working one.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := false
	for _, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(l, "//\tsite_id: MEM1") {
			in = true
		}
		if in && !strings.HasPrefix(l, "//\t") {
			break
		}
		if in {
			lines = append(lines, strings.TrimPrefix(l, "//\t"))
		}
	}
	var fromDoc any
	if err := yaml.Unmarshal([]byte(strings.Join(lines, "\n")), &fromDoc); err != nil {
		t.Fatalf("the doc's example is not YAML: %v", err)
	}
	b, err := json.Marshal(fromDoc)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/mem1.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("doc.go's example differs from testdata/mem1.json:\ndoc:\n%s\nmem1.json:\n%s", gb, wb)
	}
}
