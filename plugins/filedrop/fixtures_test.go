package filedrop

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestFixturesAreTheShared checks that testdata/fixtures holds exactly the
// team's shared fixtures, byte for byte, when the checkout sits beside
// them (elsewhere there is nothing to compare with).
func TestFixturesAreTheShared(t *testing.T) {
	shared, err := os.ReadDir(sharedFixtures)
	if os.IsNotExist(err) {
		t.Skipf("%s is not beside this checkout", sharedFixtures)
	}
	if err != nil {
		t.Fatal(err)
	}
	copies, err := os.ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != len(shared) {
		t.Errorf("%s has %d files, %s %d: copy them again", fixtures, len(copies), sharedFixtures, len(shared))
	}
	for _, e := range shared {
		want, err := os.ReadFile(filepath.Join(sharedFixtures, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(fixtures, e.Name()))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (%v): copy it again", filepath.Join(fixtures, e.Name()), filepath.Join(sharedFixtures, e.Name()), err)
		}
	}
}
