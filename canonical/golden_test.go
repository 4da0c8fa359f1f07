package canonical_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/draylink/dray/canonical"
	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite golden files from the sample events")

const goldenDir = "testdata/events"

func goldenPath(typ string) string { return filepath.Join(goldenDir, typ+".json") }

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("indent: %v", err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// TestGoldenJSON checks the JSON form of one event of every type against the
// golden files (rewrite them with -update).
func TestGoldenJSON(t *testing.T) {
	events := buildSamples()
	seen := map[string]bool{}
	for _, e := range events {
		seen[e.GetType()] = true
		b, err := canonical.MarshalJSON(e)
		if err != nil {
			t.Fatalf("%s: marshal: %v", e.GetType(), err)
		}
		got := indent(t, b)
		path := goldenPath(e.GetType())
		if *update {
			if err := os.MkdirAll(goldenDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test -update)", e.GetType(), err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: JSON differs from %s:\ngot:\n%s\nwant:\n%s", e.GetType(), path, got, want)
		}
	}
	for _, name := range canonical.TypeNames() {
		if !seen[name] {
			t.Errorf("no sample event of type %s", name)
		}
	}
}

// TestGoldenRoundTrip reads every golden file and checks JSON → event →
// binary → event → JSON gives the same bytes, and that the event is valid.
func TestGoldenRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(files), len(canonical.TypeNames()); got != want {
		t.Fatalf("%d golden files; want %d (one per event type)", got, want)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			e, err := canonical.UnmarshalJSON(in)
			if err != nil {
				t.Fatalf("unmarshal json: %v", err)
			}
			if err := canonical.Validate(e); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if e.GetType()+".json" != filepath.Base(path) {
				t.Errorf("file holds a %s event", e.GetType())
			}
			bin, err := canonical.MarshalBinary(e)
			if err != nil {
				t.Fatalf("marshal binary: %v", err)
			}
			back, err := canonical.UnmarshalBinary(bin)
			if err != nil {
				t.Fatalf("unmarshal binary: %v", err)
			}
			if !proto.Equal(e, back) {
				t.Fatalf("binary round trip changed the event")
			}
			out, err := canonical.MarshalJSON(back)
			if err != nil {
				t.Fatalf("marshal json: %v", err)
			}
			if got := indent(t, out); !bytes.Equal(got, in) {
				t.Errorf("round trip differs:\ngot:\n%s\nwant:\n%s", got, in)
			}
		})
	}
}
