package example_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/plugins/sdk/conformance"
)

// buildBinary builds the connector's plugin binary, as a site integrator
// would, for the suite to run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the plugin; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "dray-connector-example")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/dray-connector-example").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeFile drops a file the way a WMS export should: written under a name
// the pattern does not match, then renamed.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// countLines makes n valid count lines for round r, plus three bad ones.
func countLines(r, n int) (string, int) {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"count_id":"CC-%d-%04d","owner":"ACME","sku":"AF-%d","location":"R-%02d-01-A","uom":"EA","counted":%d,"expected":"%d","counted_at":"2025-03-14T16:05:00-05:00"}`+"\n",
			r, i, 1000+i, i%40, 10+i, 12+i)
	}
	b.WriteString(`{"count_id":"CC-bad-1","sku":"AF-1","location":"X","uom":"EA","counted":1,"counted_at":"2025-03-14T16:05:00-05:00","colour":"red"}` + "\n")
	b.WriteString("not json at all\n")
	b.WriteString(`{"count_id":"CC-bad-3","sku":"AF-1","location":"X","uom":"EA","counted":-4,"counted_at":"2025-03-14T16:05:00-05:00"}` + "\n")
	return b.String(), 3
}

func TestConformanceIntegration(t *testing.T) {
	bin := buildBinary(t)
	conformance.Run(t, conformance.Harness{
		Binary: bin,
		NewSource: func(t *testing.T) conformance.Source {
			dir := t.TempDir()
			cfg, _ := json.Marshal(map[string]any{
				"site_id": "MEM1", "dir": dir, "poll_interval": "100ms", "batch_size": 50,
			})
			return conformance.Source{
				Config: cfg,
				Produce: func(t *testing.T, round int) conformance.Produced {
					content, bad := countLines(round, 120)
					writeFile(t, dir, fmt.Sprintf("counts-%04d.jsonl", round), content)
					return conformance.Produced{Events: 120, Rejects: bad}
				},
			}
		},
		Quiet: time.Second,
	})
}
