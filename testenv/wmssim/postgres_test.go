package wmssim

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/draylink/dray/testenv/dbserver"
)

// TestPostgresIntegration runs the simulator into a real PostgreSQL
// server (testenv/dbserver): the world's invariants hold there, the
// ground truth is the one an SQLite run of the same seed writes, and the
// sql connector reads it exactly, by watermark and by outbox.
func TestPostgresIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server; skipped with -short")
	}
	srv := dbserver.Postgres(t)
	pgDir, liteDir := t.TempDir(), t.TempDir()
	cfg := testConfig(pgDir, 12000)
	cfg.Rate = 15
	cfg.Process.LongTxn = 0.1
	cfg.Store = StoreConfig{Postgres: srv.DSN, Reset: true}
	_, tr := run(t, cfg)
	checkInvariants(t, pgQuery(t, srv.DSN))

	lite := testConfig(liteDir, 12000)
	lite.Rate, lite.Process.LongTxn = 15, 0.1
	run(t, lite)
	a, err := os.ReadFile(filepath.Join(pgDir, "truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(liteDir, "truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	a = bytes.ReplaceAll(bytes.Replace(a, []byte(`"store":"postgres"`), []byte(`"store":"sqlite"`), 1), []byte(pgDir), []byte("$DIR"))
	b = bytes.ReplaceAll(b, []byte(liteDir), []byte("$DIR"))
	if !bytes.Equal(a, b) {
		t.Error("the PostgreSQL run's ground truth differs from the SQLite run's")
	}
	for _, mode := range []string{SQLTables, SQLOutbox} {
		t.Run(mode, func(t *testing.T) {
			conf, err := SQLConnectorConfig(cfg, Postgres, srv.DSN, mode)
			if err != nil {
				t.Fatal(err)
			}
			srcs := []string{"table", "tombstone"}
			if mode == SQLOutbox {
				srcs = []string{"outbox"}
			}
			checkEmitted(t, tr, readAll(t, conf), expectedDB(tr, srcs...), mode)
		})
	}
}
