package sql

import (
	"testing"
	"time"
)

// BenchmarkConvert is the plugin's per-row work without the database and
// the transport: one movement row mapped (pack conversion, local time
// resolution) and made into an event by canonical.NewEvent (ids, fact key,
// validation). The SDK validates and encodes each event once more on Emit
// (docs/PERFORMANCE.md, "plugin stream").
//
//	go test ./plugins/sql/ -run '^$' -bench Convert -benchmem
func BenchmarkConvert(b *testing.B) {
	tp := testPlan(&testing.T{}, "postgres", map[string]any{
		"name": "movements", "mode": "watermark", "table": "movements", "key": []string{"move_no"}, "timestamp": "updated_at",
		"event_type": "logistics.inventory.moved",
		"occurred":   map[string]any{"column": "moved_at", "time": "local"},
		"fields": map[string]any{
			"movement.sourceKey":    map[string]any{"column": "move_no"},
			"movement.movementType": map[string]any{"column": "move_type", "map": map[string]string{"PICK": "pick"}},
			"movement.item.ownerId": map[string]any{"value": "ACME"},
			"movement.item.sku":     map[string]any{"column": "sku", "trim": true},
			"movement.from.code":    map[string]any{"column": "from_loc"},
			"movement.to.code":      map[string]any{"column": "to_loc"},
			"movement.reference":    map[string]any{"column": "ref"},
			"movement.quantity": map[string]any{
				"column": "qty", "uom": map[string]any{"column": "uom", "map": map[string]string{"CS": "XCS"}},
				"to_base": map[string]any{"uom": "EA", "qty_in_base": map[string]any{"column": "case_qty"}}, "received": "movement.receivedQuantity",
			},
		},
	})
	vals := make([]any, len(tp.cols)+tp.extras)
	set := map[string]any{"move_no": "MV-000000042", "updated_at": time.Now().UTC(), "moved_at": time.Date(2025, 3, 14, 10, 5, 0, 0, time.UTC),
		"move_type": "PICK", "sku": "AF-1002", "from_loc": "R-40-02-C", "to_loc": "STAGE-3", "ref": []byte("SO-778812"),
		"qty": "2", "uom": "CS", "case_qty": "12.000"}
	for name, v := range set {
		vals[tp.colIdx[name]] = v
	}
	b.ReportAllocs()
	for b.Loop() {
		if c := tp.convert(&row{vals: vals}); c.ev == nil {
			b.Fatalf("reject: %+v", c.rej)
		}
	}
}
