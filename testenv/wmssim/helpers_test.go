package wmssim

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// allBad turns every bad-input category on at a rate a short run hits.
var allBad = BadConfig{CSVUnknownUnit: 0.004, CSVBadNumber: 0.004, CSVFieldCount: 0.004, CSVBadDate: 0.004,
	CSVInvalidUTF8: 0.08, CSVUnclosedQuote: 0.08, X12SECount: 0.08, X12BadSSCC: 0.15, X12Truncated: 0.05,
	DBNullKey: 0.01, DBOutOfRange: 0.01}

// testConfig is a MaxSpeed run into dir with a fixed technical clock.
func testConfig(dir string, facts int64) Config {
	return Config{Seed: 7, MaxSpeed: true, WallStart: "2025-03-14T11:00:00Z", Truth: filepath.Join(dir, "truth.jsonl"),
		Store: StoreConfig{SQLite: filepath.Join(dir, "wms.db")},
		Drops: DropConfig{CSV: filepath.Join(dir, "csv"), X12: filepath.Join(dir, "edi")},
		Stop:  StopConfig{Facts: facts}, Bad: allBad}
}

// run runs a simulation and reads its ground truth back.
func run(t testing.TB, cfg Config) (Summary, *Truth) {
	t.Helper()
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sum, err := s.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	tr, err := ReadTruth(cfg.Truth)
	if err != nil {
		t.Fatalf("read truth: %v", err)
	}
	if tr.End == nil {
		t.Fatal("truth has no end line")
	}
	return sum, tr
}

// sharedRun is one run that several read-only tests share.
var sharedRun struct {
	dir   string
	cfg   Config
	sum   Summary
	truth *Truth
}

func shared(t *testing.T) (string, Config, *Truth) {
	t.Helper()
	if sharedRun.truth == nil {
		dir, err := os.MkdirTemp("", "wmssim-shared-")
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(dir, 30000)
		cfg.Rate = 15
		sharedRun.dir, sharedRun.cfg = dir, cfg
		sharedRun.sum, sharedRun.truth = run(t, cfg)
		t.Logf("shared run: %s", sharedRun.sum)
	}
	return sharedRun.dir, sharedRun.cfg, sharedRun.truth
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedRun.dir != "" {
		_ = os.RemoveAll(sharedRun.dir)
	}
	os.Exit(code)
}
