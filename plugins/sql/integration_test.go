package sql_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk"
	sqlconn "github.com/draylink/dray/plugins/sql"
	"github.com/draylink/dray/testenv/dbserver"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"
)

// testDB is the WMS side of a test: it writes rows the way a WMS would.
type testDB struct {
	driver string
	dsn    string
	exec   func(t *testing.T, q string, args ...any)
	// begin opens a transaction on a connection of its own; nil when the
	// database has a single writer (SQLite).
	begin func(t *testing.T) (exec func(q string, args ...any), commit func())
	// types used in DDL
	ts, text, bytes, num, serial, json string
	trigger                            []string
}

func pgTestDB(t *testing.T, s *dbserver.Server) *testDB {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx) })
	return &testDB{
		driver: "postgres", dsn: s.DSN,
		exec: func(t *testing.T, q string, args ...any) {
			t.Helper()
			if _, err := c.Exec(ctx, pgPlaceholders(q), args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		},
		begin: func(t *testing.T) (func(string, ...any), func()) {
			c2, err := pgx.Connect(ctx, s.DSN)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := c2.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return func(q string, args ...any) {
					if _, err := tx.Exec(ctx, pgPlaceholders(q), args...); err != nil {
						t.Errorf("%s: %v", q, err)
					}
				}, func() {
					if err := tx.Commit(ctx); err != nil {
						t.Errorf("commit: %v", err)
					}
					_ = c2.Close(ctx)
				}
		},
		ts: "TIMESTAMP(6)", text: "TEXT", bytes: "BYTEA", num: "NUMERIC(12,3)", serial: "BIGSERIAL PRIMARY KEY", json: "TEXT",
		trigger: []string{
			`CREATE FUNCTION movement_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
			 BEGIN INSERT INTO movements_deleted (move_no, updated_at, deleted_at) VALUES (OLD.move_no, OLD.updated_at, now()); RETURN OLD; END $$`,
			`CREATE TRIGGER movements_tombstone AFTER DELETE ON movements FOR EACH ROW EXECUTE FUNCTION movement_deleted()`,
		},
	}
}

// pgPlaceholders turns ? into $1, $2 … for the tests' shared statements.
func pgPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func sqlTestDB(t *testing.T, driver, openDriver, dsn, connDSN string) *testDB {
	db, err := sql.Open(openDriver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	tdb := &testDB{
		driver: driver, dsn: connDSN,
		exec: func(t *testing.T, q string, args ...any) {
			t.Helper()
			if _, err := db.Exec(q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		},
	}
	if driver == "mysql" {
		tdb.begin = func(t *testing.T) (func(string, ...any), func()) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			return func(q string, args ...any) {
					if _, err := tx.Exec(q, args...); err != nil {
						t.Errorf("%s: %v", q, err)
					}
				}, func() {
					if err := tx.Commit(); err != nil {
						t.Errorf("commit: %v", err)
					}
				}
		}
	}
	return tdb
}

func mariaTestDB(t *testing.T, s *dbserver.Server) *testDB {
	d := sqlTestDB(t, "mysql", "mysql", s.DSN, s.DSN)
	d.ts, d.text, d.bytes, d.num, d.serial, d.json = "DATETIME(6)", "VARCHAR(64)", "VARBINARY(64)", "DECIMAL(12,3)", "BIGINT AUTO_INCREMENT PRIMARY KEY", "LONGTEXT"
	d.trigger = []string{`CREATE TRIGGER movements_tombstone AFTER DELETE ON movements FOR EACH ROW
		INSERT INTO movements_deleted (move_no, updated_at, deleted_at) VALUES (OLD.move_no, OLD.updated_at, NOW(6))`}
	return d
}

func sqliteTestDB(t *testing.T) *testDB {
	path := filepath.Join(t.TempDir(), "wms.db")
	d := sqlTestDB(t, "sqlite", "sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)", path)
	d.ts, d.text, d.bytes, d.num, d.serial, d.json = "TIMESTAMP", "TEXT", "BLOB", "NUMERIC", "INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"
	d.trigger = []string{`CREATE TRIGGER movements_tombstone AFTER DELETE ON movements BEGIN
		INSERT INTO movements_deleted (move_no, updated_at, deleted_at) VALUES (OLD.move_no, OLD.updated_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); END`}
	return d
}

func (d *testDB) schema(t *testing.T) {
	t.Helper()
	d.exec(t, fmt.Sprintf(`CREATE TABLE movements (
		id %s, move_no %s, updated_at %s NOT NULL, moved_at %s, move_type %s, sku %s,
		from_loc %s, to_loc %s, qty %s, uom %s, case_qty %s, ref %s)`,
		d.serial, d.text, d.ts, d.ts, d.text, d.text, d.text, d.text, d.text, d.text, d.num, d.bytes))
	d.exec(t, fmt.Sprintf(`CREATE TABLE movements_deleted (tomb_id %s, move_no %s, updated_at %s, deleted_at %s)`,
		d.serial, d.text, d.ts, d.ts))
	d.exec(t, fmt.Sprintf(`CREATE TABLE order_lines (owner %s NOT NULL, order_no %s NOT NULL, line_no INTEGER NOT NULL,
		sku %s, status %s, qty %s, updated_at %s NOT NULL, PRIMARY KEY (owner, order_no, line_no))`,
		d.text, d.text, d.text, d.text, d.num, d.ts))
	for _, s := range d.trigger {
		d.exec(t, s)
	}
}

// stamp formats a time as every test database stores it.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000") }

type movement struct {
	no, typ, sku, from, to, qty, uom string
	caseQty                          any
	ref                              []byte
	movedAt                          string // site-local wall time
}

func (d *testDB) insertMovement(t *testing.T, exec func(string, ...any), ts time.Time, m movement) {
	t.Helper()
	var no any = m.no
	if m.no == "" {
		no = nil
	}
	var sku any = m.sku
	if m.sku == "" {
		sku = nil
	}
	if exec == nil {
		exec = func(q string, args ...any) { d.exec(t, q, args...) }
	}
	exec(`INSERT INTO movements (move_no, updated_at, moved_at, move_type, sku, from_loc, to_loc, qty, uom, case_qty, ref)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, no, stamp(ts), m.movedAt, m.typ, sku, m.from, m.to, m.qty, m.uom, m.caseQty, m.ref)
}

func goodMove(no string) movement {
	return movement{no: no, typ: "PICK", sku: " AF-1002 ", from: "R-40-02-C", to: "STAGE-3", qty: "2", uom: "CS", caseQty: "12", ref: []byte("SO-778812"), movedAt: "2025-03-14 10:05:00"}
}

// connectorConfig maps the test WMS: movements → inventory.moved, order
// lines → order_line.status_changed, tombstones → event.retracted.
func connectorConfig(d *testDB, batch int) []byte {
	cfg := map[string]any{
		"site_id": "MEM1", "time_zone": "America/Chicago", "driver": d.driver, "dsn": d.dsn,
		"poll_interval": "50ms", "batch_size": batch, "backoff_min": "50ms", "backoff_max": "1s",
		"tables": []any{
			map[string]any{
				"name": "movements", "mode": "watermark", "table": "movements",
				"key": []string{"move_no"}, "timestamp": "updated_at",
				"lag": "200ms", "overlap": "2h", "rescan_interval": "150ms",
				"event_type": "logistics.inventory.moved",
				"occurred":   map[string]any{"column": "moved_at", "time": "local"},
				"fields": map[string]any{
					"movement.sourceKey":    map[string]any{"column": "move_no"},
					"movement.movementType": map[string]any{"column": "move_type", "map": map[string]string{"PICK": "pick", "PUT": "putaway", "ADJ+": "adjustment_in"}},
					"movement.item.ownerId": map[string]any{"value": "ACME"},
					"movement.item.sku":     map[string]any{"column": "sku", "trim": true},
					"movement.from.code":    map[string]any{"column": "from_loc"},
					"movement.to.code":      map[string]any{"column": "to_loc"},
					"movement.reference":    map[string]any{"column": "ref"},
					"movement.quantity": map[string]any{
						"column": "qty", "uom": map[string]any{"column": "uom", "map": map[string]string{"CS": "XCS", "EA": "EA", "BOX": "XBX"}},
						"to_base":  map[string]any{"uom": "EA", "qty_in_base": map[string]any{"column": "case_qty"}},
						"received": "movement.receivedQuantity",
					},
				},
			},
			map[string]any{
				"name": "order_lines", "mode": "watermark", "table": "order_lines",
				"key": []string{"owner", "order_no", "line_no"}, "timestamp": "updated_at",
				"lag": "200ms", "overlap": "2h", "rescan_interval": "150ms",
				"event_type": "logistics.order_line.status_changed",
				"occurred":   map[string]any{"column": "updated_at", "time": "utc"},
				"fields": map[string]any{
					"order.ownerId":      map[string]any{"column": "owner"},
					"order.orderNo":      map[string]any{"column": "order_no"},
					"lineNo":             map[string]any{"column": "line_no"},
					"item.ownerId":       map[string]any{"column": "owner"},
					"item.sku":           map[string]any{"column": "sku"},
					"status":             map[string]any{"column": "status", "map": map[string]string{"10": "released", "20": "allocated", "30": "picked", "60": "shipped"}},
					"quantities.ordered": map[string]any{"column": "qty", "uom": map[string]any{"value": "EA"}},
				},
			},
			map[string]any{
				"name": "movements_deleted", "mode": "tombstones", "table": "movements_deleted",
				"key": []string{"tomb_id"}, "retracts": "movements",
				"record_key": []string{"move_no"}, "record_version": []string{"updated_at"},
				"occurred": map[string]any{"column": "deleted_at", "time": "utc"}, "gap_timeout": "2s",
			},
		},
	}
	b, _ := json.Marshal(cfg)
	return b
}

// recorder is an in-process Emitter: it keeps every batch and its cursor.
type recorder struct {
	mu      sync.Mutex
	events  []*canonical.Event
	rejects []sdk.Reject
	cursors [][]byte
	bad     []string
}

func (r *recorder) Emit(_ context.Context, b sdk.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(b.Cursor) == 0 {
		r.bad = append(r.bad, "a batch without a cursor")
	}
	for _, e := range b.Events {
		if err := canonical.Validate(e); err != nil {
			r.bad = append(r.bad, fmt.Sprintf("invalid event %s: %v", e.GetId(), err))
		}
	}
	r.events = append(r.events, b.Events...)
	r.rejects = append(r.rejects, b.Rejects...)
	r.cursors = append(r.cursors, b.Cursor)
	return nil
}

func (r *recorder) snapshot() ([]*canonical.Event, []sdk.Reject, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var cur []byte
	if len(r.cursors) > 0 {
		cur = r.cursors[len(r.cursors)-1]
	}
	return slices.Clone(r.events), slices.Clone(r.rejects), cur
}

// run is one connector process: Configure, then Read from cursor.
type run struct {
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

func startRun(t *testing.T, cfg, cursor []byte) *run {
	t.Helper()
	c := sqlconn.New()
	if err := c.Configure(context.Background(), cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{rec: &recorder{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Read(ctx, cursor, r.rec) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *run) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Read: %v", err)
		}
		r.done <- nil // for a second stop
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return within 5 s of cancel")
	}
	r.rec.mu.Lock()
	for _, b := range r.rec.bad {
		t.Error(b)
	}
	r.rec.bad = nil
	r.rec.mu.Unlock()
}

// waitFor waits until pred holds over what the run emitted.
func (r *run) waitFor(t *testing.T, what string, pred func(ev []*canonical.Event, rej []sdk.Reject) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ev, rej, _ := r.rec.snapshot()
		if pred(ev, rej) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after 30 s (%d events, %d rejects)", what, len(ev), len(rej))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countType(ev []*canonical.Event, typ string) int {
	n := 0
	for _, e := range ev {
		if e.GetType() == typ {
			n++
		}
	}
	return n
}

func atLeast(moved, lines, retracted, rejects int) func([]*canonical.Event, []sdk.Reject) bool {
	return func(ev []*canonical.Event, rej []sdk.Reject) bool {
		return countType(ev, "logistics.inventory.moved") >= moved &&
			countType(ev, "logistics.order_line.status_changed") >= lines &&
			countType(ev, "logistics.event.retracted") >= retracted && len(rej) >= rejects
	}
}

func integrationScenario(t *testing.T, d *testDB) {
	d.schema(t)
	cfg := connectorConfig(d, 7)
	base := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Millisecond)

	// Round 1: 20 movements, 25 order lines all with the same timestamp
	// (ties across batches of 7), and one row of every bad kind.
	for i := range 20 {
		d.insertMovement(t, nil, base.Add(time.Duration(i)*time.Second), goodMove(fmt.Sprintf("MV-%03d", i)))
	}
	tie := base.Add(30 * time.Second)
	for i := range 25 {
		d.exec(t, `INSERT INTO order_lines (owner, order_no, line_no, sku, status, qty, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			"ACME", fmt.Sprintf("SO-%d", 778800+i%3), i, fmt.Sprintf("AF-%d", 1000+i), "20", "12", stamp(tie))
	}
	badAt := base.Add(40 * time.Second)
	bad := map[string]movement{ // move_no → the row; want code
		"":       goodMove(""),
		"BAD-02": {no: "BAD-02", typ: "PICK", sku: "AF-1", from: "A", to: "B", qty: "1", uom: "EA", ref: []byte{0xff, 0xfe, 'x'}, movedAt: "2025-03-14 10:00:00"},
		"BAD-03": {no: "BAD-03", typ: "PICK", sku: "AF-1", from: "A", to: "B", qty: "-5", uom: "EA", movedAt: "2025-03-14 10:00:00"},
		"BAD-04": {no: "BAD-04", typ: "PICK", sku: "AF-1", from: "A", to: "B", qty: "12,5x", uom: "EA", movedAt: "2025-03-14 10:00:00"},
		"BAD-05": {no: "BAD-05", typ: "TELEPORT", sku: "AF-1", from: "A", to: "B", qty: "1", uom: "EA", movedAt: "2025-03-14 10:00:00"},
		"BAD-06": {no: "BAD-06", typ: "PICK", sku: "AF-1", from: "A", to: "B", qty: "1", uom: "PAIL", movedAt: "2025-03-14 10:00:00"},
		"BAD-07": {no: "BAD-07", typ: "PICK", from: "A", to: "B", qty: "1", uom: "EA", movedAt: "2025-03-14 10:00:00"},
		"BAD-08": {no: "BAD-08", typ: "PICK", sku: "AF-1", from: "A", to: "B", qty: "1", uom: "EA", movedAt: "2025-03-09 02:30:00"},
		"BAD-09": {no: "BAD-09", typ: "PICK", sku: "AF-1", from: "A", to: "B", qty: "0.5", uom: "EA", movedAt: "2025-03-14 10:00:00"},
	}
	wantCode := map[string]string{
		"movements/": "sql_null_key", "movements/BAD-02": "sql_bad_encoding", "movements/BAD-03": "sql_bad_value",
		"movements/BAD-04": "sql_bad_value", "movements/BAD-05": "sql_unknown_code", "movements/BAD-06": "sql_unknown_code",
		"movements/BAD-07": "sql_invalid_event", "movements/BAD-08": "sql_bad_time", "movements/BAD-09": "sql_bad_value",
	}
	for _, no := range slices.Sorted(func(yield func(string) bool) {
		for k := range bad {
			if !yield(k) {
				return
			}
		}
	}) {
		d.insertMovement(t, nil, badAt, bad[no])
	}
	// A good row after the bad ones at the same timestamp: the rest flows.
	d.insertMovement(t, nil, badAt, goodMove("MV-ZZZ"))

	r1 := startRun(t, cfg, nil)
	r1.waitFor(t, "round 1", atLeast(21, 25, 0, len(bad)))
	_, rej, _ := r1.rec.snapshot()
	for _, x := range rej {
		want, ok := wantCode[x.Ref]
		if !ok || x.Code != want {
			t.Errorf("reject %s: code %s (%s); want %q", x.Ref, x.Code, x.Reason, want)
		}
		if len(x.Payload) == 0 || !json.Valid(x.Payload) {
			t.Errorf("reject %s: payload %q is not the row as JSON", x.Ref, x.Payload)
		}
		delete(wantCode, x.Ref)
	}
	for ref, code := range wantCode {
		t.Errorf("no reject for %s (want %s)", ref, code)
	}
	ev, _, _ := r1.rec.snapshot()
	for _, e := range ev {
		if m := e.GetInventoryMoved().GetMovement(); m != nil && m.GetSourceKey() == "MV-000" {
			if q := m.GetQuantity(); q.GetValue() != "24" || q.GetUom() != "EA" {
				t.Errorf("MV-000 quantity %v; want 24 EA (2 cases of 12)", q)
			}
			if q := m.GetReceivedQuantity(); q.GetValue() != "2" || q.GetUom() != "XCS" {
				t.Errorf("MV-000 received quantity %v; want 2 XCS", q)
			}
			if m.GetItem().GetSku() != "AF-1002" || m.GetFrom().GetSiteId() != "MEM1" {
				t.Errorf("MV-000 item %v from %v; want sku AF-1002 (trimmed), site MEM1", m.GetItem(), m.GetFrom())
			}
			if got := e.OccurredAt().Format(time.RFC3339); got != "2025-03-14T10:05:00-05:00" {
				t.Errorf("MV-000 occurred %s; want 2025-03-14T10:05:00-05:00 (CDT)", got)
			}
		}
	}

	// A late commit: a transaction writes a row with an older timestamp
	// and commits after the watermark passed it.
	lateAt := base.Add(50 * time.Second)
	lateExec, lateCommit := func(q string, args ...any) { d.exec(t, q, args...) }, func() {}
	if d.begin != nil {
		lateExec, lateCommit = d.begin(t)
	}
	// A row without a key in the same late transaction: it must still be
	// rejected once, though the watermark has passed its timestamp.
	lateNoKey := goodMove("")
	lateNoKey.ref = []byte("LATE-NO-KEY")
	if d.begin != nil {
		d.insertMovement(t, lateExec, lateAt, goodMove("MV-LATE"))
		d.insertMovement(t, lateExec, lateAt, lateNoKey)
	}
	for i := range 5 {
		d.insertMovement(t, nil, lateAt.Add(time.Duration(i+1)*time.Second), goodMove(fmt.Sprintf("MV-1%02d", i)))
	}
	r1.waitFor(t, "rows after the open transaction", atLeast(26, 25, 0, len(bad)))
	if d.begin == nil {
		// SQLite has one writer: the late row is written after the
		// watermark passed its timestamp, which is what a late commit
		// looks like to a reader.
		d.insertMovement(t, nil, lateAt, goodMove("MV-LATE"))
		d.insertMovement(t, nil, lateAt, lateNoKey)
	}
	lateCommit()
	badRows := len(bad) + 1 // with the late row without a key
	r1.waitFor(t, "the late rows", atLeast(27, 25, 0, badRows))

	// Updates: a new version of three lines (status moves on) and of a
	// movement; deletes of two movements (one of them updated first).
	for i := range 3 {
		d.exec(t, `UPDATE order_lines SET status = ?, updated_at = ? WHERE line_no = ?`, "30", stamp(base.Add(60*time.Second)), i)
	}
	d.exec(t, `UPDATE movements SET qty = ?, updated_at = ? WHERE move_no = ?`, "3", stamp(base.Add(61*time.Second)), "MV-005")
	r1.waitFor(t, "updates", atLeast(28, 28, 0, badRows))
	d.exec(t, `DELETE FROM movements WHERE move_no IN (?, ?)`, "MV-005", "MV-006")
	r1.waitFor(t, "deletes", atLeast(28, 28, 2, badRows))
	time.Sleep(500 * time.Millisecond) // a few more polls and re-scans
	r1.stop(t)
	ev1, rej1, cur1 := r1.rec.snapshot()
	checkOnce(t, "run 1", ev1)

	// The retractions name the id of each deleted row's last version.
	lastVersion := map[string]string{}
	for _, e := range ev1 {
		if m := e.GetInventoryMoved().GetMovement(); m != nil {
			lastVersion[m.GetSourceKey()] = e.GetId()
		}
	}
	for _, e := range ev1 {
		if x := e.GetEventRetracted(); x != nil {
			if x.GetRetractedEventId() != lastVersion["MV-005"] && x.GetRetractedEventId() != lastVersion["MV-006"] {
				t.Errorf("retraction of %s: not the last version of MV-005 (%s) or MV-006 (%s)", x.GetRetractedEventId(), lastVersion["MV-005"], lastVersion["MV-006"])
			}
		}
	}
	if n := countType(ev1, "logistics.event.retracted"); n != 2 {
		t.Errorf("%d retractions; want 2", n)
	}

	// Restart from the last cursor: nothing again, then only what is new.
	r2 := startRun(t, cfg, cur1)
	time.Sleep(time.Second)
	if ev, rej, _ := r2.rec.snapshot(); len(ev)+len(rej) > 0 {
		t.Errorf("restart from the last cursor re-emitted %d events and %d rejects; want none", len(ev), len(rej))
	}
	for i := range 4 {
		d.insertMovement(t, nil, base.Add(time.Duration(70+i)*time.Second), goodMove(fmt.Sprintf("MV-2%02d", i)))
	}
	r2.waitFor(t, "round 2", atLeast(4, 0, 0, 0))
	d.exec(t, `DELETE FROM movements WHERE move_no = ?`, "MV-200")
	r2.waitFor(t, "round 2's delete", atLeast(4, 0, 1, 0))
	time.Sleep(500 * time.Millisecond)
	r2.stop(t)
	ev2, rej2, _ := r2.rec.snapshot()
	all := append(slices.Clone(ev1), ev2...)
	checkOnce(t, "runs 1 and 2", all)
	if len(rej1)+len(rej2) != badRows {
		t.Errorf("%d rejects over both runs; want %d, each bad row once", len(rej1)+len(rej2), badRows)
		for _, x := range append(rej1, rej2...) {
			t.Logf("reject %s %s %s", x.Ref, x.Code, x.Payload)
		}
	}
	// 20 + 1 + 5 + 1 late + 1 update (+ 4 round 2) movements, 25 + 3
	// lines, 3 retractions.
	if got, want := len(all), 32+28+3; got != want {
		t.Errorf("%d events over both runs; want %d", got, want)
	}

	// From the beginning: the same ids, nothing new (the deleted rows'
	// versions are gone, so fewer).
	r3 := startRun(t, cfg, nil)
	r3.waitFor(t, "a re-read from nil", atLeast(28, 25, 3, len(bad)))
	time.Sleep(500 * time.Millisecond)
	r3.stop(t)
	ev3, _, _ := r3.rec.snapshot()
	seen := map[string]bool{}
	for _, e := range all {
		seen[e.GetId()] = true
	}
	for _, e := range ev3 {
		if !seen[e.GetId()] {
			t.Errorf("re-read from nil: new id %s (%s %s)", e.GetId(), e.GetType(), e.GetSourceRef())
		}
	}
	checkOnce(t, "re-read from nil", ev3)
}

// checkOnce fails on an id emitted more than once.
func checkOnce(t *testing.T, what string, ev []*canonical.Event) {
	t.Helper()
	n := map[string]int{}
	for _, e := range ev {
		n[e.GetId()]++
	}
	dups := 0
	for id, c := range n {
		if c > 1 {
			dups += c - 1
			t.Errorf("%s: id %s emitted %d times", what, id, c)
		}
	}
	t.Logf("%s: %d events, %d distinct ids, %d duplicates", what, len(ev), len(n), dups)
}

func TestPostgresIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL; skipped with -short")
	}
	integrationScenario(t, pgTestDB(t, dbserver.Postgres(t)))
}

func TestMariaDBIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB; skipped with -short")
	}
	integrationScenario(t, mariaTestDB(t, dbserver.MariaDB(t)))
}

func TestSQLiteIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test; skipped with -short")
	}
	integrationScenario(t, sqliteTestDB(t))
}

// TestNullLocationIsAbsent: an adjustment in has no source location and a
// ship no destination; a NULL location column leaves the location out of
// the event instead of making an empty one that fails validation.
func TestNullLocationIsAbsent(t *testing.T) {
	d := sqliteTestDB(t)
	d.schema(t)
	at := stamp(time.Now().UTC().Add(-time.Minute))
	d.exec(t, `INSERT INTO movements (move_no, updated_at, moved_at, move_type, sku, from_loc, to_loc, qty, uom)
		VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)`, "ADJ-1", at, "2025-03-14 10:00:00", "ADJ+", "AF-1", "R-1", "3", "EA")
	d.exec(t, `INSERT INTO movements (move_no, updated_at, moved_at, move_type, sku, from_loc, to_loc, qty, uom)
		VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?)`, "ADJ-2", at, "2025-03-14 10:00:00", "ADJ+", "AF-1", "3", "EA")
	r := startRun(t, connectorConfig(d, 25), nil)
	r.waitFor(t, "both rows", func(ev []*canonical.Event, rej []sdk.Reject) bool { return len(ev)+len(rej) >= 2 })
	ev, rej, _ := r.rec.snapshot()
	for _, e := range ev {
		m := e.GetInventoryMoved().GetMovement()
		if m.GetSourceKey() != "ADJ-1" {
			t.Errorf("event for %s; want only ADJ-1 (ADJ-2 has no location at all)", m.GetSourceKey())
			continue
		}
		if m.From != nil {
			t.Errorf("ADJ-1 from = %v; want no location", m.From)
		}
		if m.GetTo().GetCode() != "R-1" || m.GetTo().GetSiteId() != "MEM1" {
			t.Errorf("ADJ-1 to = %v; want R-1 at MEM1", m.GetTo())
		}
	}
	if len(ev) != 1 || len(rej) != 1 || rej[0].Ref != "movements/ADJ-2" || rej[0].Code != "sql_invalid_event" {
		t.Fatalf("%d events and rejects %v; want ADJ-1 as an event and ADJ-2 rejected as invalid (a movement needs a location)", len(ev), rej)
	}
}
