// Command gen writes the JSON Schema files of the canonical event types into
// a directory (canonical/schema). Run by `go generate` in package canonical.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/draylink/dray/canonical/internal/jsonschema"
)

func main() {
	out := flag.String("out", "schema", "directory to write the schema files into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-jsonschema:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := jsonschema.Generate()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // published schema files are world-readable on purpose
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.schema.json"))
	for _, f := range old {
		if _, keep := files[filepath.Base(f)]; !keep {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil { //nolint:gosec // published schema files are world-readable on purpose
			return err
		}
	}
	return nil
}
