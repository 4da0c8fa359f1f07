package sql_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

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
