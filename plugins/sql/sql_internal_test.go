package sql

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/plugins/sdk"
)

func testPlan(t *testing.T, driver string, table map[string]any) *tablePlan {
	t.Helper()
	cfg := map[string]any{"site_id": "MEM1", "time_zone": "America/Chicago", "driver": driver, "dsn": "x", "tables": []any{table}}
	raw, _ := json.Marshal(cfg)
	p, err := compile(raw)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p.tables[0]
}

var movesTable = map[string]any{
	"name": "moves", "mode": "watermark", "table": "dbo.moves", "key": []string{"site", "move_no"}, "timestamp": "updated_at",
	"lag": "2s", "overlap": "1m", "event_type": "logistics.inventory.moved",
	"occurred": map[string]any{"column": "moved_at", "time": "local"},
	"fields":   map[string]any{"movement.sourceKey": map[string]any{"column": "move_no"}},
}

// TestWatermarkSQL pins the generated SQL of every dialect; SQL Server's is
// checked here only (no server runs in this environment).
func TestWatermarkSQL(t *testing.T) {
	at := &position{TS: dbValue{time.Date(2025, 3, 14, 16, 5, 0, 0, time.UTC)}, Key: []dbValue{{"MEM1"}, {int64(7)}}}
	tests := []struct {
		driver, want string
	}{
		{"postgres", `SELECT src."site", src."move_no", src."updated_at", src."moved_at", src."updated_at" AS dray_wm, CASE WHEN src."updated_at" >= ((now()) - interval '62000000 microseconds') THEN 1 ELSE 0 END AS dray_win FROM "dbo"."moves" AS src WHERE src."updated_at" <= ((now()) - interval '2000000 microseconds') AND src."updated_at" >= $1 AND (src."updated_at" > $2 OR (src."updated_at" = $3 AND ((src."site" > $4) OR (src."site" = $5 AND src."move_no" > $6)))) ORDER BY src."updated_at", src."site" NULLS FIRST, src."move_no" NULLS FIRST LIMIT 500`},
		{"mysql", "SELECT src.`site`, src.`move_no`, src.`updated_at`, src.`moved_at`, src.`updated_at` AS dray_wm, CASE WHEN src.`updated_at` >= ((NOW(6)) - INTERVAL 62000000 MICROSECOND) THEN 1 ELSE 0 END AS dray_win FROM `dbo`.`moves` AS src WHERE src.`updated_at` <= ((NOW(6)) - INTERVAL 2000000 MICROSECOND) AND src.`updated_at` >= ? AND (src.`updated_at` > ? OR (src.`updated_at` = ? AND ((src.`site` > ?) OR (src.`site` = ? AND src.`move_no` > ?)))) ORDER BY src.`updated_at`, src.`site`, src.`move_no` LIMIT 500"},
		{"sqlite", `SELECT src."site", src."move_no", src."updated_at", src."moved_at", +src."updated_at" AS dray_wm, CASE WHEN src."updated_at" >= strftime('%Y-%m-%d %H:%M:%f', 'now', '-62 seconds') THEN 1 ELSE 0 END AS dray_win FROM "dbo"."moves" AS src WHERE src."updated_at" <= strftime('%Y-%m-%d %H:%M:%f', 'now', '-2 seconds') AND src."updated_at" >= ? AND (src."updated_at" > ? OR (src."updated_at" = ? AND ((src."site" > ?) OR (src."site" = ? AND src."move_no" > ?)))) ORDER BY src."updated_at", src."site", src."move_no" LIMIT 500`},
		{"sqlserver", `SELECT TOP (500) src.[site], src.[move_no], src.[updated_at], src.[moved_at], src.[updated_at] AS dray_wm, CASE WHEN src.[updated_at] >= DATEADD(millisecond, -62000, SYSDATETIME()) THEN 1 ELSE 0 END AS dray_win FROM [dbo].[moves] AS src WHERE src.[updated_at] <= DATEADD(millisecond, -2000, SYSDATETIME()) AND src.[updated_at] >= @p1 AND (src.[updated_at] > @p2 OR (src.[updated_at] = @p3 AND ((src.[site] > @p4) OR (src.[site] = @p5 AND src.[move_no] > @p6)))) ORDER BY src.[updated_at], src.[site], src.[move_no]`},
	}
	for _, tt := range tests {
		tp := testPlan(t, tt.driver, movesTable)
		got, args := tp.watermarkQuery(at, 500)
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.driver, got, tt.want)
		}
		want := []any{at.TS.v, at.TS.v, at.TS.v, "MEM1", "MEM1", int64(7)}
		if !reflect.DeepEqual(args, want) {
			t.Errorf("%s: args %v; want %v", tt.driver, args, want)
		}
	}
}

func TestRescanSQL(t *testing.T) {
	tp := testPlan(t, "sqlserver", movesTable)
	at := position{TS: dbValue{"2025-03-14"}, Key: []dbValue{{"MEM1"}, {int64(7)}}}
	floor := &position{TS: dbValue{"2025-03-13"}, NullKey: true}
	got, args := tp.rescanQuery(at, floor, nil, 100)
	want := `SELECT TOP (100) src.[site], src.[move_no], src.[updated_at], src.[moved_at], src.[updated_at] AS dray_wm, CASE WHEN src.[updated_at] >= DATEADD(millisecond, -62000, SYSDATETIME()) THEN 1 ELSE 0 END AS dray_win FROM [dbo].[moves] AS src WHERE src.[updated_at] >= DATEADD(millisecond, -62000, SYSDATETIME()) AND src.[updated_at] <= @p1 AND (src.[updated_at] < @p2 OR (src.[updated_at] = @p3 AND (NOT (src.[site] IS NOT NULL AND src.[move_no] IS NOT NULL) OR ((src.[site] < @p4) OR (src.[site] = @p5 AND src.[move_no] <= @p6))))) AND src.[updated_at] >= @p7 AND (src.[updated_at] > @p8 OR (src.[updated_at] = @p9 AND (src.[site] IS NOT NULL AND src.[move_no] IS NOT NULL))) ORDER BY src.[updated_at], src.[site], src.[move_no]`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	if len(args) != 9 {
		t.Errorf("%d args; want 9", len(args))
	}
}

func TestRowversionSQL(t *testing.T) {
	tp := testPlan(t, "sqlserver", map[string]any{
		"name": "moves", "mode": "rowversion", "table": "dbo.moves", "key": []string{"move_no"}, "rowversion": "rv",
		"event_type": "logistics.inventory.moved",
		"occurred":   map[string]any{"column": "moved_at", "time": "local"},
		"fields":     map[string]any{"movement.sourceKey": map[string]any{"column": "move_no"}},
	})
	got, args := tp.rowversionQuery([]byte{0, 0, 0, 0, 0, 0, 7, 0xd1}, 500)
	want := `SELECT TOP (500) src.[move_no], src.[rv], src.[moved_at] FROM [dbo].[moves] AS src WHERE src.[rv] > @p1 AND src.[rv] < MIN_ACTIVE_ROWVERSION() ORDER BY src.[rv]`
	if got != want || len(args) != 1 {
		t.Errorf("\n got %s (%d args)\nwant %s", got, len(args), want)
	}
	got, _ = tp.rowversionQuery(nil, 500)
	if !strings.Contains(got, "WHERE src.[rv] < MIN_ACTIVE_ROWVERSION() ORDER BY") {
		t.Errorf("from the start: %s", got)
	}
}

func TestSequenceSQL(t *testing.T) {
	tp := testPlan(t, "postgres", map[string]any{
		"name": "outbox", "mode": "outbox", "table": "dray_outbox",
		"types": map[string]any{"X": map[string]any{"event_type": "logistics.inventory.moved",
			"occurred": map[string]any{"column": "payload", "path": "at", "time": "instant"},
			"fields":   map[string]any{"movement.sourceKey": map[string]any{"column": "aggregateid"}}}},
	})
	id := int64(41)
	got, args := tp.sequenceQuery(&id, []gap{{ID: 38}, {ID: 40}}, 10)
	want := `SELECT src."id", src."type", src."payload", src."aggregateid" FROM "dray_outbox" AS src WHERE src."id" > $1 OR src."id" IN ($2, $3) ORDER BY src."id" LIMIT 10`
	if got != want || !reflect.DeepEqual(args, []any{int64(41), int64(38), int64(40)}) {
		t.Errorf("\n got %s %v\nwant %s", got, args, want)
	}
}

// TestConfigErrors checks that every problem is reported with its path.
func TestConfigErrors(t *testing.T) {
	raw := `{"site_id":"", "time_zone":"Mars/Olympus", "driver":"oracle", "dsn":"x", "dsn_env":"Y", "batch_size": 0,
	  "colour": 1,
	  "tables":[
	   {"name":"m", "mode":"watermark", "table":"moves; DROP", "key":["id"], "timestamp":"ts",
	    "event_type":"logistics.inventory.moved", "occurred":{"column":"at"},
	    "fields":{"movement.nope":{"column":"x"}, "movement.movementType":{"column":"t","map":{"P":"teleport"}},
	              "movement.quantity":{"column":"q"}}},
	   {"name":"m", "mode":"sideways", "query":"DELETE FROM x"},
	   {"name":"d", "mode":"tombstones", "table":"dels", "retracts":"nothing"}
	  ]}`
	_, err := compile([]byte(raw))
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("compile: %v; want a ConfigError", err)
	}
	paths := map[string]bool{}
	for _, f := range ce.Fields {
		paths[f.Path] = true
	}
	for _, want := range []string{"site_id", "time_zone", "driver", "dsn", "batch_size", "colour",
		"tables[0].table", "tables[0].occurred.time", "tables[0].fields.movement.nope",
		"tables[0].fields.movement.movementType.map.P", "tables[0].fields.movement.quantity.uom",
		"tables[1].name", "tables[1].query", "tables[1].mode", "tables[2].occurred"} {
		if !paths[want] {
			t.Errorf("no error at %s; got %v", want, ce.Fields)
		}
	}
}

func TestCursorValueRoundTrip(t *testing.T) {
	vals := []any{nil, int64(-7), "A/B", true, time.Date(2025, 3, 14, 10, 5, 0, 123456000, time.FixedZone("", -5*3600)), 1.5, []byte{0, 0xff}}
	for _, v := range vals {
		b, err := json.Marshal(dbValue{v})
		if err != nil {
			t.Fatal(err)
		}
		var got dbValue
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if tm, ok := v.(time.Time); ok {
			if g := got.v.(time.Time); !g.Equal(tm) || g.Format(time.RFC3339Nano) != tm.Format(time.RFC3339Nano) {
				t.Errorf("%v → %s → %v", v, b, got.v)
			}
			continue
		}
		if !reflect.DeepEqual(got.v, v) {
			t.Errorf("%#v → %s → %#v", v, b, got.v)
		}
	}
}
