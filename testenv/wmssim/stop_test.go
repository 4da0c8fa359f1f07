package wmssim

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestStopMidFlush stops runs at moments that fall inside flushes (a
// full-speed run flushes all the time): each must end cleanly, with the
// ground truth's end line, and every movement row the truth logged must
// be in the database — a stop that rolled back a flush the truth had
// logged made the chaos harness count facts as lost that were never
// written.
func TestStopMidFlush(t *testing.T) {
	if testing.Short() {
		t.Skip("several short runs; skipped with -short")
	}
	for i := range 8 {
		dir := t.TempDir()
		cfg := testConfig(dir, 0)
		cfg.Stop = StopConfig{}
		s, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(150+40*i)*time.Millisecond)
		_, err = s.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("run %d stopped by its context: %v", i, err)
		}
		tr, err := ReadTruth(cfg.Truth)
		if err != nil {
			t.Fatal(err)
		}
		if tr.End == nil || tr.End.Reason != "signal" {
			t.Fatalf("run %d: end line %+v", i, tr.End)
		}
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "wms.db"))
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for _, f := range tr.Facts {
			for _, v := range f.Via {
				if v.Src != "table" || v.Table != "inventory_movements" {
					continue
				}
				var n int
				if err := db.QueryRow(`SELECT count(*) FROM inventory_movements WHERE movement_id = ?`, v.PK).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					missing++
					if missing <= 3 {
						t.Errorf("run %d: %s (%s) logged in the truth, movement %s not in the database", i, f.ID, f.Type, v.PK)
					}
				}
			}
		}
		_ = db.Close()
		if missing > 0 {
			t.Fatalf("run %d: %d logged movements missing from the database", i, missing)
		}
		t.Logf("run %d: %d facts, stopped cleanly", i, len(tr.Facts))
	}
}
