package canonical_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/internal/jsonschema"
)

// TestJSONSchemaIsFresh fails when canonical/schema differs from what the
// generator makes of the current .proto files: run `make generate`.
func TestJSONSchemaIsFresh(t *testing.T) {
	want, err := jsonschema.Generate()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("schema/*.schema.json")
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	var names []string
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(got) != len(names) {
		t.Fatalf("schema/ has %d files; the generator makes %d (run make generate)", len(got), len(names))
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("schema", name))
		if err != nil {
			t.Fatalf("%v (run make generate)", err)
		}
		if !bytes.Equal(b, want[name]) {
			t.Errorf("schema/%s is stale (run make generate)", name)
		}
	}
	if len(names) != len(canonical.Types()) {
		t.Errorf("%d schemas for %d event types", len(names), len(canonical.Types()))
	}
}

// TestGoldenEventsMatchTheirSchema checks each golden event's top-level
// shape against its schema: const type, required attributes present, and no
// attribute the schema does not list.
func TestGoldenEventsMatchTheirSchema(t *testing.T) {
	for _, typ := range canonical.Types() {
		var schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		}
		b, err := os.ReadFile(filepath.Join("schema", jsonschema.FileName(typ)))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &schema); err != nil {
			t.Fatal(err)
		}
		var event map[string]json.RawMessage
		g, err := os.ReadFile(goldenPath(typ.Name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(g, &event); err != nil {
			t.Fatal(err)
		}
		for _, r := range schema.Required {
			if _, ok := event[r]; !ok {
				t.Errorf("%s: golden event lacks required %q", typ.Name, r)
			}
		}
		for k := range event {
			if _, ok := schema.Properties[k]; !ok {
				t.Errorf("%s: attribute %q not in the schema", typ.Name, k)
			}
		}
		if string(schema.Properties["type"]) == "" || !bytes.Contains(schema.Properties["type"], []byte(typ.Name)) {
			t.Errorf("%s: schema type is %s", typ.Name, schema.Properties["type"])
		}
	}
}
