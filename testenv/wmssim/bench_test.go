package wmssim

import (
	"context"
	"os"
	"testing"

	"github.com/draylink/dray/testenv/dbserver"
)

// benchRun runs b.N runs of facts facts (MaxSpeed, every output on, the
// bad-input shares of allBad) and reports facts per second of wall time.
func benchRun(b *testing.B, facts int64, mutate func(dir string, c *Config)) {
	var total int64
	var secs float64
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		cfg := testConfig(dir, facts)
		cfg.Rate = 200
		if mutate != nil {
			mutate(dir, &cfg)
		}
		s, err := New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		sum, err := s.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		total += sum.Facts
		secs += sum.Elapsed.Seconds()
		_ = os.RemoveAll(dir)
	}
	b.ReportMetric(float64(total)/secs, "facts/s")
	b.ReportMetric(secs/float64(total)*1e6, "µs/fact")
}

// BenchmarkSimSQLiteFiles: SQLite (WAL, synchronous NORMAL), CSV and X12
// drops, ground truth fsynced per commit group.
func BenchmarkSimSQLiteFiles(b *testing.B) { benchRun(b, 50000, nil) }

// BenchmarkSimFilesOnly: no database.
func BenchmarkSimFilesOnly(b *testing.B) {
	benchRun(b, 50000, func(_ string, c *Config) { c.Store = StoreConfig{} })
}

// BenchmarkSimSQLiteOnly: no file drops.
func BenchmarkSimSQLiteOnly(b *testing.B) {
	benchRun(b, 50000, func(_ string, c *Config) { c.Drops = DropConfig{} })
}

// BenchmarkSimPostgresFiles: a local PostgreSQL server (testenv/dbserver)
// and the file drops.
func BenchmarkSimPostgresFiles(b *testing.B) {
	srv := dbserver.Postgres(b)
	benchRun(b, 50000, func(_ string, c *Config) { c.Store = StoreConfig{Postgres: srv.DSN, Reset: true} })
}
