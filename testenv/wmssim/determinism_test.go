package wmssim

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dumpDB returns every table's rows, sorted, as text.
func dumpDB(t *testing.T, q query) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tb := range tables {
		var rows []string
		for _, r := range must(t, q, "SELECT * FROM "+tb) {
			rows = append(rows, strings.Join(r, "\x1f"))
		}
		slices.Sort(rows)
		out[tb] = rows
	}
	return out
}

// dumpFiles returns every file under dir by relative path.
func dumpFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), "wms.db") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = bytes.ReplaceAll(b, []byte(dir), []byte("$DIR"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDeterminism runs the same seed and configuration twice: the ground
// truth, every file and every row are identical; another seed differs.
func TestDeterminism(t *testing.T) {
	runDir := func(seed uint64) (string, Summary) {
		dir := t.TempDir()
		cfg := testConfig(dir, 8000)
		cfg.Seed = seed
		cfg.Process.LongTxn = 0.2 // exercise late commits
		sum, _ := run(t, cfg)
		return dir, sum
	}
	a, sumA := runDir(11)
	b, _ := runDir(11)
	c, _ := runDir(12)
	fa, fb, fc := dumpFiles(t, a), dumpFiles(t, b), dumpFiles(t, c)
	if len(fa) < 20 {
		t.Fatalf("only %d files", len(fa))
	}
	for _, name := range sortedKeys(fa) {
		if !bytes.Equal(fa[name], fb[name]) {
			t.Errorf("%s differs between two runs of one seed", name)
		}
	}
	if len(fa) != len(fb) {
		t.Errorf("%d files vs %d", len(fa), len(fb))
	}
	da, db := dumpDB(t, sqliteQuery(t, a+"/wms.db")), dumpDB(t, sqliteQuery(t, b+"/wms.db"))
	for _, tb := range tables {
		if !slices.Equal(da[tb], db[tb]) {
			t.Errorf("table %s differs between two runs of one seed (%d vs %d rows)", tb, len(da[tb]), len(db[tb]))
		}
	}
	if bytes.Equal(fa["truth.jsonl"], fc["truth.jsonl"]) {
		t.Error("seeds 11 and 12 gave the same ground truth")
	}
	if sumA.Kinds["order"] == 0 || len(da["inventory_movements"]) == 0 || sumA.Late == 0 {
		t.Errorf("empty run: %s", sumA)
	}
	t.Logf("%d files, %d movements, %d outbox rows identical: %s", len(fa), len(da["inventory_movements"]), len(da["outbox"]), sumA)
}
