package sql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk"
	sqlconn "github.com/draylink/dray/plugins/sql"
	"github.com/draylink/dray/testenv/dbserver"
)

func outboxConfig(d *testDB) []byte {
	moved := map[string]any{
		"event_type": "logistics.inventory.moved",
		"occurred":   map[string]any{"column": "payload", "path": "at", "time": "instant"},
		"fields": map[string]any{
			"movement.sourceKey":    map[string]any{"column": "aggregateid"},
			"movement.movementType": map[string]any{"column": "payload", "path": "kind"},
			"movement.item.sku":     map[string]any{"column": "payload", "path": "item.sku"},
			"movement.to.code":      map[string]any{"column": "payload", "path": "to"},
			"movement.quantity":     map[string]any{"column": "payload", "path": "qty", "uom": map[string]any{"column": "payload", "path": "uom"}},
		},
	}
	cfg := map[string]any{
		"site_id": "MEM1", "time_zone": "America/Chicago", "driver": d.driver, "dsn": d.dsn,
		"poll_interval": "50ms", "batch_size": 4,
		"tables": []any{map[string]any{
			"name": "outbox", "mode": "outbox", "table": "dray_outbox", "gap_timeout": "3s",
			"types": map[string]any{"MovementPosted": moved},
		}},
	}
	b, _ := json.Marshal(cfg)
	return b
}

// outboxScenario: an outbox table read by id, with bad rows, and an id that
// commits after a later one was read (a gap) caught exactly once.
func outboxScenario(t *testing.T, d *testDB) {
	d.exec(t, fmt.Sprintf(`CREATE TABLE dray_outbox (id %s, aggregatetype %s, aggregateid %s, type %s, payload %s)`,
		d.serial, d.text, d.text, d.text, d.json))
	ins := func(exec func(string, ...any), id int, typ, payload string) {
		if exec == nil {
			exec = func(q string, args ...any) { d.exec(t, q, args...) }
		}
		exec(`INSERT INTO dray_outbox (id, aggregatetype, aggregateid, type, payload) VALUES (?, ?, ?, ?, ?)`,
			id, "movement", fmt.Sprintf("OB-%d", id), typ, payload)
	}
	good := func(id int) string {
		return fmt.Sprintf(`{"at":"2025-03-14T16:05:00-05:00","kind":"pick","item":{"sku":"AF-%d"},"to":"STAGE-1","qty":"%d","uom":"EA"}`, id, id)
	}
	for id := 1; id <= 9; id++ {
		ins(nil, id, "MovementPosted", good(id))
	}
	ins(nil, 10, "MovementPosted", `{"at": not json`)
	ins(nil, 11, "SomethingElse", `{}`)
	r := startRun(t, outboxConfig(d), nil)
	r.waitFor(t, "the first rows", atLeast(9, 0, 0, 2))
	_, rej, _ := r.rec.snapshot()
	codes := map[string]string{}
	for _, x := range rej {
		codes[x.Ref] = x.Code
	}
	if codes["dray_outbox/10"] != "sql_bad_payload" || codes["dray_outbox/11"] != "sql_unknown_type" {
		t.Errorf("rejects %v; want dray_outbox/10 sql_bad_payload, dray_outbox/11 sql_unknown_type", codes)
	}

	// Id 12 is taken by a transaction that commits after 13 was read.
	commit := func() {}
	if d.begin != nil {
		var exec func(string, ...any)
		exec, commit = d.begin(t)
		ins(exec, 12, "MovementPosted", good(12))
	}
	ins(nil, 13, "MovementPosted", good(13))
	r.waitFor(t, "id 13", atLeast(10, 0, 0, 2))
	if d.begin == nil {
		ins(nil, 12, "MovementPosted", good(12))
	}
	commit()
	r.waitFor(t, "id 12, after 13", atLeast(11, 0, 0, 2))
	time.Sleep(300 * time.Millisecond)
	r.stop(t)
	ev, _, cur := r.rec.snapshot()
	checkOnce(t, "outbox", ev)
	if len(ev) != 11 {
		t.Errorf("%d events; want 11", len(ev))
	}
	r2 := startRun(t, outboxConfig(d), cur)
	time.Sleep(500 * time.Millisecond)
	r2.stop(t)
	if ev, rej, _ := r2.rec.snapshot(); len(ev)+len(rej) != 0 {
		t.Errorf("restart from the last cursor: %d events, %d rejects; want none", len(ev), len(rej))
	}
}

func TestOutboxSQLiteIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test; skipped with -short")
	}
	outboxScenario(t, sqliteTestDB(t))
}

func TestOutboxPostgresIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL; skipped with -short")
	}
	outboxScenario(t, pgTestDB(t, dbserver.Postgres(t)))
}

func TestOutboxMariaDBIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB; skipped with -short")
	}
	outboxScenario(t, mariaTestDB(t, dbserver.MariaDB(t)))
}

// TestOutboxOrderLinesSQLite: an order with its lines in the outbox
// payload becomes order.received with every line (each); a bad line
// rejects the row with the line's position; a mapping that targets a list
// of messages without each is a configuration error.
func TestOutboxOrderLinesSQLite(t *testing.T) {
	d := sqliteTestDB(t)
	d.exec(t, fmt.Sprintf(`CREATE TABLE dray_outbox (id %s, aggregatetype %s, aggregateid %s, type %s, payload %s)`,
		d.serial, d.text, d.text, d.text, d.json))
	order := map[string]any{
		"event_type": "logistics.order.received",
		"occurred":   map[string]any{"column": "payload", "path": "released_at", "time": "local"},
		"fields": map[string]any{
			"order.ownerId":   map[string]any{"column": "payload", "path": "owner"},
			"order.orderNo":   map[string]any{"column": "payload", "path": "order_no"},
			"order.orderType": map[string]any{"value": "outbound"},
			"order.lines": map[string]any{"column": "payload", "path": "lines", "each": map[string]any{
				"lineNo":       map[string]any{"path": "line_no"},
				"item.ownerId": map[string]any{"column": "payload", "path": "owner"}, // the row's, on every line
				"item.sku":     map[string]any{"path": "sku"},
				"ordered":      map[string]any{"path": "qty", "uom": map[string]any{"path": "uom", "map": map[string]string{"CA": "XCS", "EA": "EA"}}},
			}},
		},
	}
	cfg := func(o map[string]any) []byte {
		b, _ := json.Marshal(map[string]any{
			"site_id": "MEM1", "time_zone": "America/Chicago", "driver": d.driver, "dsn": d.dsn, "poll_interval": "50ms",
			"tables": []any{map[string]any{"name": "outbox", "mode": "outbox", "table": "dray_outbox", "types": map[string]any{"order.created": o}}},
		})
		return b
	}
	ins := func(id int, payload string) {
		d.exec(t, `INSERT INTO dray_outbox (id, aggregatetype, aggregateid, type, payload) VALUES (?, 'order', ?, 'order.created', ?)`,
			id, fmt.Sprintf("ACME/SO-%d", id), payload)
	}
	ins(1, `{"owner":"ACME","order_no":"SO-1","released_at":"2025-03-14 09:00:00","lines":[
		{"line_no":1,"sku":"AF-1","qty":"3","uom":"CA"},{"line_no":2,"sku":"AF-2","qty":12,"uom":"EA"}]}`)
	ins(2, `{"owner":"ACME","order_no":"SO-2","released_at":"2025-03-14 09:00:00","lines":[
		{"line_no":1,"sku":"AF-1","qty":"3","uom":"CA"},{"line_no":2,"sku":"AF-2","qty":"2","uom":"PAIL"}]}`)
	ins(3, `{"owner":"ACME","order_no":"SO-3","released_at":"2025-03-14 09:00:00","lines":"none"}`)
	r := startRun(t, cfg(order), nil)
	r.waitFor(t, "three rows", func(ev []*canonical.Event, rej []sdk.Reject) bool { return len(ev)+len(rej) >= 3 })
	ev, rej, _ := r.rec.snapshot()
	if len(ev) != 1 {
		t.Fatalf("%d events; want SO-1 only", len(ev))
	}
	o := ev[0].GetOrderReceived().GetOrder()
	if o.GetOrderNo() != "SO-1" || len(o.GetLines()) != 2 {
		t.Fatalf("order %s with %d lines; want SO-1 with 2", o.GetOrderNo(), len(o.GetLines()))
	}
	l1, l2 := o.GetLines()[0], o.GetLines()[1]
	if l1.GetLineNo() != "1" || l1.GetItem().GetSku() != "AF-1" || l1.GetOrdered().GetValue() != "3" || l1.GetOrdered().GetUom() != "XCS" {
		t.Errorf("line 1 = %v; want 1, AF-1, 3 XCS", l1)
	}
	if l2.GetLineNo() != "2" || l2.GetOrdered().GetValue() != "12" || l2.GetOrdered().GetUom() != "EA" {
		t.Errorf("line 2 = %v; want 2, 12 EA (a JSON number)", l2)
	}
	byRef := map[string]sdk.Reject{}
	for _, x := range rej {
		byRef[x.Ref] = x
	}
	if x := byRef["dray_outbox/2"]; x.Code != "sql_unknown_code" || !strings.Contains(x.Reason, "order.lines: [1].ordered") {
		t.Errorf("SO-2 reject %s %q; want sql_unknown_code located at order.lines: [1].ordered", x.Code, x.Reason)
	}
	if x := byRef["dray_outbox/3"]; x.Code != "sql_bad_payload" || !strings.Contains(x.Reason, "not a JSON array") {
		t.Errorf("SO-3 reject %s %q; want sql_bad_payload, not a JSON array", x.Code, x.Reason)
	}

	// Without each, a list of messages is refused when configured.
	bad := maps.Clone(order)
	bad["fields"] = map[string]any{"order.lines": map[string]any{"column": "payload", "path": "lines"}}
	err := sqlconn.New().Configure(context.Background(), cfg(bad))
	if err == nil || !strings.Contains(err.Error(), "fill it from a JSON array with each") {
		t.Errorf("Configure with order.lines without each: %v; want a field error naming each", err)
	}
}
