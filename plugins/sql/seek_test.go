package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/dbserver"
	"github.com/jackc/pgx/v5"
)

// TestWatermarkQuerySeeksTheIndex runs the generated watermark query
// through PostgreSQL's EXPLAIN ANALYZE from a position deep into a table
// with the (ts, key) index: the plan must reach the page through the index
// range, not walk the index (or the table) from its start and filter.
// Without the leading "ts >= t" the disjunction was no range: a page 15,000
// rows in filtered 15,000 rows, and each page cost more than the last.
func TestWatermarkQuerySeeksTheIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL; skipped with -short")
	}
	s := dbserver.Postgres(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(ctx) }()
	for _, q := range []string{
		`CREATE TABLE seek_moves (move_no TEXT, updated_at TIMESTAMP(6) NOT NULL, qty TEXT)`,
		`CREATE INDEX seek_moves_wm ON seek_moves (updated_at, move_no)`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	const n, limit = 20000, 500
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	rows := make([][]any, n)
	for i := range rows {
		// Pairs of rows share a timestamp, as equal timestamps do in a WMS.
		rows[i] = []any{fmt.Sprintf("MV-%06d", i), base.Add(time.Duration(i/2) * time.Millisecond), "1"}
	}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"seek_moves"}, []string{"move_no", "updated_at", "qty"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "VACUUM ANALYZE seek_moves"); err != nil {
		t.Fatal(err)
	}

	tp := testPlan(t, "postgres", map[string]any{
		"name": "moves", "mode": "watermark", "table": "seek_moves", "key": []string{"move_no"}, "timestamp": "updated_at",
		"lag": "1s", "event_type": "logistics.inventory.counted",
		"occurred": map[string]any{"column": "updated_at", "time": "utc"},
		"fields":   map[string]any{"sourceKey": map[string]any{"column": "move_no"}},
	})
	at := &position{TS: dbValue{rows[15001][1]}, Key: []dbValue{{rows[15001][0]}}}
	q, args := tp.watermarkQuery(at, limit)

	// The page itself: exactly the rows after the position, in order.
	got, err := c.Query(ctx, q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	page, err := pgx.CollectRows(got, func(r pgx.CollectableRow) (string, error) {
		v, err := r.Values()
		return fmt.Sprint(v[0]), err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != limit || page[0] != "MV-015002" || page[limit-1] != fmt.Sprintf("MV-%06d", 15002+limit-1) {
		t.Fatalf("page of %d rows, first %v, last %v; want %d from MV-015002", len(page), page[:min(1, len(page))], page[max(0, len(page)-1):], limit)
	}

	var raw []byte
	if err := c.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+q, args...).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var plans []struct{ Plan planNode }
	if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("EXPLAIN: %v: %s", err, raw)
	}
	filtered, scanned := plans[0].Plan.rows()
	if filtered > limit || scanned > 3*limit {
		t.Errorf("the query filtered %.0f rows and scanned %.0f for a page of %d: it does not seek the (ts, key) index\n%s\nplan: %s",
			filtered, scanned, limit, q, raw)
	}
}

// planNode is the part of PostgreSQL's JSON plan the test reads.
type planNode struct {
	NodeType        string     `json:"Node Type"`
	ActualRows      float64    `json:"Actual Rows"`
	RemovedByFilter float64    `json:"Rows Removed by Filter"`
	Plans           []planNode `json:"Plans"`
}

// rows sums, over the plan's scans, the rows the filters removed and the
// rows the scans produced.
func (p planNode) rows() (filtered, scanned float64) {
	filtered = p.RemovedByFilter
	switch p.NodeType {
	case "Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan":
		scanned = p.ActualRows + p.RemovedByFilter
	}
	for _, c := range p.Plans {
		f, s := c.rows()
		filtered += f
		scanned += s
	}
	return filtered, scanned
}
