//go:build unix

package sql_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
	"github.com/draylink/dray/testenv/dbserver"
	"github.com/jackc/pgx/v5"
)

// BenchmarkPostgresToSpool measures the sql connector from PostgreSQL to
// the agent's spool: b.N movement rows (loaded with COPY beforehand) are
// read by the real plugin binary (pluginhost: go-plugin, AutoMTLS), mapped
// to inventory.moved events (quantity conversion through the pack size,
// local time resolution, canonical.NewEvent, SDK validation and encoding)
// and each batch is committed with its cursor to a real spool (Badger,
// fsync per commit) before the connector reads on. Rows per second is over
// the whole path; the CPU columns split it between the plugin and the host
// (this process: spool and gRPC).
//
//	go test ./plugins/sql/ -run '^$' -bench PostgresToSpool -benchtime 200000x -count 3
func BenchmarkPostgresToSpool(b *testing.B) {
	for _, batch := range []int{500, 2000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchToSpool(b, batch) })
	}
}

func benchToSpool(b *testing.B, batch int) {
	s := dbserver.Postgres(b)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close(ctx) }()
	if _, err := c.Exec(ctx, `CREATE TABLE movements (id BIGSERIAL PRIMARY KEY, move_no TEXT, updated_at TIMESTAMP(6) NOT NULL,
		moved_at TIMESTAMP, move_type TEXT, sku TEXT, from_loc TEXT, to_loc TEXT, qty TEXT, uom TEXT, case_qty NUMERIC(12,3), ref BYTEA)`); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Exec(ctx, `CREATE INDEX movements_wm ON movements (updated_at, move_no)`); err != nil {
		b.Fatal(err)
	}
	base := time.Now().UTC().Add(-2 * time.Hour)
	moved := time.Date(2025, 3, 14, 10, 5, 0, 0, time.UTC)
	rows := make([][]any, b.N)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("MV-%09d", i), base.Add(time.Duration(i) * time.Microsecond), moved.Add(time.Duration(i) * time.Second),
			"PICK", fmt.Sprintf("AF-%d", 1000+i%5000), fmt.Sprintf("R-%02d-%02d-A", i%40, i%17), "STAGE-3", strconv.Itoa(1 + i%9), "CS", "12", []byte("SO-778812")}
	}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"movements"},
		[]string{"move_no", "updated_at", "moved_at", "move_type", "sku", "from_loc", "to_loc", "qty", "uom", "case_qty", "ref"},
		pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Exec(ctx, "VACUUM ANALYZE movements"); err != nil {
		b.Fatal(err)
	}

	d := &testDB{driver: "postgres", dsn: s.DSN}
	var cfg map[string]any
	_ = json.Unmarshal(connectorConfig(d, batch), &cfg)
	cfg["tables"] = cfg["tables"].([]any)[:1]
	raw, _ := json.Marshal(cfg)

	bin := buildBinary(b)
	sum := sha256.Sum256(mustRead(b, bin))
	p, err := pluginhost.Start(ctx, pluginhost.Config{Path: bin, SHA256: hex.EncodeToString(sum[:]), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	if err := p.Configure(ctx, raw); err != nil {
		b.Fatal(err)
	}
	sp, err := spool.Open(spool.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sp.Close() }()

	plugin0, host0 := procCPU(p.Pid()), selfCPU()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n, rejects, commits := 0, 0, 0
	b.ResetTimer()
	err = p.Read(rctx, nil, func(ctx context.Context, hb pluginhost.HostBatch) error {
		entries := make([]spool.Entry, len(hb.Events))
		for i, e := range hb.Events {
			entries[i] = spool.Entry{Lane: canonical.LaneOperational, Event: e} // inventory.moved
		}
		if err := sp.Commit(ctx, "sql", hb.Cursor, entries); err != nil {
			return err
		}
		commits++
		n += len(hb.Events)
		rejects += len(hb.Rejects)
		if n+rejects >= b.N {
			cancel()
		}
		return nil
	})
	b.StopTimer()
	if n != b.N {
		b.Fatalf("%d events, %d rejects (%v); want %d events", n, rejects, err, b.N)
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)/secs, "rows/s")
	b.ReportMetric(float64(n)/float64(commits), "rows/commit")
	b.ReportMetric(float64((procCPU(p.Pid())-plugin0).Microseconds())/float64(n), "plugin-cpu-µs/row")
	b.ReportMetric(float64((selfCPU()-host0).Microseconds())/float64(n), "host-cpu-µs/row")
}

func mustRead(b *testing.B, path string) []byte {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// procCPU is the user+system CPU time of pid, from /proc (clock ticks of
// 10 ms, the usual USER_HZ).
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	st := string(raw)
	f := strings.Fields(st[strings.LastIndexByte(st, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+stt) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
