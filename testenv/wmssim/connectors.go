package wmssim

import (
	"fmt"
	"path/filepath"
	"time"
)

// Connector configurations that read the simulated WMS with the identities
// the ground truth expects. They are plain values (JSON/YAML marshalable)
// in the connectors' own configuration formats (plugins/sql,
// plugins/filedrop), for the demo and the harnesses to write out.

// SQL connector modes SQLConnectorConfig writes.
const (
	// SQLTables reads the business tables by (last_modified, key)
	// watermark, plus the tombstones.
	SQLTables = "tables"
	// SQLOutbox reads the outbox table only.
	SQLOutbox = "outbox"
)

var uomMap = map[string]string{"CA": "XCS", "EA": "EA", "KG": "KGM", "PL": "XPX"}

func col(c string) map[string]any { return map[string]any{"column": c} }
func val(v string) map[string]any { return map[string]any{"value": v} }
func qtyCol(c string) map[string]any {
	return map[string]any{"column": c, "uom": map[string]any{"column": "uom", "map": uomMap}}
}
func local(c string) map[string]any  { return map[string]any{"column": c, "time": "local"} }
func utcCol(c string) map[string]any { return map[string]any{"column": c, "time": "utc"} }
func path(p string) map[string]any   { return map[string]any{"column": "payload", "path": p} }
func pathMap(p string, m map[string]string) map[string]any {
	return map[string]any{"column": "payload", "path": p, "map": m}
}
func pathQty(p string) map[string]any {
	return map[string]any{"column": "payload", "path": p, "uom": map[string]any{"column": "payload", "path": "uom", "map": uomMap}}
}

var (
	moveTypes = map[string]string{"RECEIPT": "receipt", "PUTAWAY": "putaway", "PICK": "pick", "PACK": "pack", "LOAD": "transfer",
		"SHIP": "ship", "ADJUSTMENT_IN": "adjustment_in", "ADJUSTMENT_OUT": "adjustment_out", "ADJUSTMENT": "adjustment_in"}
	fromStatus = map[string]string{"QC_HOLD": "available", "DAMAGED": "available", "QC_RELEASE": "on_hold"}
	toStatus   = map[string]string{"QC_HOLD": "on_hold", "DAMAGED": "damaged", "QC_RELEASE": "available"}
	milestones = map[string]string{"X3": "at_pickup", "AF": "departed_pickup", "SD": "delayed", "X1": "at_delivery", "D1": "delivered"}
)

// SQLConnectorConfig is the sql connector's configuration block for the
// simulator's database (dialect sqlite or postgres, dsn its DSN), in mode
// SQLTables or SQLOutbox. The table entries' names are the prefixes of the
// ground truth's record keys.
func SQLConnectorConfig(cfg Config, dialect, dsn, mode string) (map[string]any, error) {
	cfg.SetDefaults()
	lag := 2*cfg.Process.LongTxnDelay.D() + 2*time.Second
	base := map[string]any{"site_id": cfg.Site.ID, "source": cfg.Identity.DB, "time_zone": cfg.Site.TimeZone,
		"driver": dialect, "dsn": dsn, "poll_interval": "200ms", "batch_size": 500}
	wm := func(name, table, query string, key []string, event string, occurred map[string]any, fields map[string]any) map[string]any {
		t := map[string]any{"name": name, "mode": "watermark", "key": key, "timestamp": "last_modified",
			"version": []string{"row_version"}, "lag": lag.String(), "overlap_max_rows": 250, "event_type": event, "occurred": occurred, "fields": fields}
		if query != "" {
			t["query"] = query
		} else {
			t["table"] = table
		}
		return t
	}
	item := func(prefix string) map[string]any {
		return map[string]any{prefix + "ownerId": col("owner_id"), prefix + "sku": col("sku"), prefix + "lot": col("lot")}
	}
	merge := func(ms ...map[string]any) map[string]any {
		out := map[string]any{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	// Orders and receipts carry their lines: each fills them from a JSON
	// array, the outbox payload's or (tables) the database's aggregate.
	elem := func(p string) map[string]any { return map[string]any{"path": p} }
	elemQty := func(p string) map[string]any {
		return map[string]any{"path": p, "uom": map[string]any{"path": "uom", "map": uomMap}}
	}
	owner := func(column, p string) map[string]any {
		if p == "" {
			return col(column)
		}
		return map[string]any{"column": column, "path": p}
	}
	orderFields := func(get func(string) map[string]any, lines map[string]any, ownerOf map[string]any) map[string]any {
		lines["each"] = map[string]any{"lineNo": elem("line_no"), "item.ownerId": ownerOf, "item.sku": elem("sku"), "item.gtin": elem("gtin"),
			"ordered": elemQty("qty_ordered")}
		return map[string]any{"order.ownerId": get("owner_id"), "order.orderNo": get("order_no"), "order.orderType": val("outbound"),
			"order.poNumber": get("po_number"), "order.carrier.scac": get("carrier_scac"), "order.lines": lines}
	}
	receiptFields := func(get func(string) map[string]any, lines map[string]any, ownerOf map[string]any) map[string]any {
		lines["each"] = map[string]any{"lineNo": elem("line_no"), "item.ownerId": ownerOf, "item.sku": elem("sku"), "item.lot": elem("lot"),
			"item.expiryDate": elem("expiry_date"), "sscc": elem("sscc"), "expected": elemQty("qty_expected"), "received": elemQty("qty_received")}
		return map[string]any{"receipt.ownerId": get("owner_id"), "receipt.receiptNo": get("receipt_no"), "receipt.poNumber": get("po_number"),
			"receipt.carrier.scac": get("carrier_scac"), "receipt.lines": lines}
	}
	var tables []any
	switch mode {
	case SQLTables:
		agg := func(fields, from, order string) string { // a JSON array of objects, in order
			if dialect == Postgres {
				return "(SELECT json_agg(json_build_object(" + fields + ") ORDER BY " + order + ") " + from + ")"
			}
			return "(SELECT json_group_array(json_object(" + fields + ") ORDER BY " + order + ") " + from + ")"
		}
		orderLines := agg(`'line_no', l.line_no, 'sku', l.sku, 'gtin', l.gtin, 'uom', l.uom, 'qty_ordered', l.qty_ordered`,
			"FROM order_lines l WHERE l.order_id = o.order_id", "l.line_no")
		receiptLines := agg(`'line_no', l.line_no, 'sku', l.sku, 'lot', l.lot, 'expiry_date', l.expiry_date, 'sscc', l.sscc, 'uom', l.uom,
  'qty_expected', l.qty_expected, 'qty_received', l.qty_received`, "FROM receipt_lines l WHERE l.receipt_id = r.receipt_id", "l.line_no")
		receipts := func(status string) string {
			return "SELECT r.*, " + receiptLines + " AS lines FROM receipts r WHERE r.status = '" + status + "'"
		}
		tables = []any{
			wm("orders", "", "SELECT o.*, "+orderLines+" AS lines FROM orders o", []string{"order_id"}, "logistics.order.received",
				local("released_at"), orderFields(col, col("lines"), col("owner_id"))),
			wm("receipts_expected", "", receipts("expected"), []string{"receipt_id"}, "logistics.receipt.expected",
				utcCol("last_modified"), receiptFields(col, col("lines"), col("owner_id"))),
			wm("receipts_completed", "", receipts("completed"), []string{"receipt_id"}, "logistics.receipt.completed",
				local("received_at"), merge(receiptFields(col, col("lines"), col("owner_id")), map[string]any{"completedAt": local("received_at")})),
			wm("order_lines", "order_lines", "", []string{"order_line_id"}, "logistics.order_line.status_changed", local("status_at"),
				map[string]any{"order.ownerId": col("owner_id"), "order.orderNo": col("order_no"), "item.ownerId": col("owner_id"),
					"item.sku": col("sku"), "lineNo": col("line_no"), "item.gtin": col("gtin"), "status": col("status"),
					"quantities.ordered": qtyCol("qty_ordered"), "quantities.picked": qtyCol("qty_picked"),
					"quantities.shipped": qtyCol("qty_shipped"), "shipmentId": col("shipment_id")}),
			wm("inventory_movements", "", `SELECT movement_id, occurred_at, owner_id, sku, gtin, lot, from_loc, to_loc, sscc, order_ref,
  reason_code, reverses_movement_id, user_id, note, uom, row_version, last_modified,
  CASE WHEN movement_type = 'ADJUSTMENT' AND qty < 0 THEN 'ADJUSTMENT_OUT'
       WHEN movement_type = 'ADJUSTMENT' THEN 'ADJUSTMENT_IN' ELSE movement_type END AS move_type,
  ABS(qty) AS abs_qty
FROM inventory_movements WHERE movement_type NOT IN ('STATUS_CHANGE', 'CYCLE_COUNT')`,
				[]string{"movement_id"}, "logistics.inventory.moved", local("occurred_at"),
				merge(item("movement.item."), map[string]any{"movement.sourceKey": col("movement_id"),
					"movement.movementType": map[string]any{"column": "move_type", "map": moveTypes},
					"movement.item.gtin":    col("gtin"), "movement.from.code": col("from_loc"), "movement.to.code": col("to_loc"),
					"movement.quantity": qtyCol("abs_qty"), "movement.sscc": col("sscc"), "movement.reference": col("order_ref"),
					"movement.reasonCode": col("reason_code"), "movement.reverses": col("reverses_movement_id"),
					"movement.userId": col("user_id"), "movement.note": col("note")})),
			wm("inventory_status_changes", "", `SELECT * FROM inventory_movements WHERE movement_type = 'STATUS_CHANGE'`,
				[]string{"movement_id"}, "logistics.inventory.status_changed", local("occurred_at"),
				merge(item("item."), map[string]any{"sourceKey": col("movement_id"), "location.code": col("from_loc"),
					"toLocation.code": col("to_loc"), "quantity": qtyCol("qty"),
					"fromStatus": map[string]any{"column": "reason_code", "map": fromStatus},
					"toStatus":   map[string]any{"column": "reason_code", "map": toStatus},
					"reasonCode": col("reason_code"), "reference": col("order_ref"), "note": col("note")})),
			wm("inventory_counts", "", `SELECT * FROM inventory_movements WHERE movement_type = 'CYCLE_COUNT'`,
				[]string{"movement_id"}, "logistics.inventory.counted", local("occurred_at"),
				merge(item("item."), map[string]any{"sourceKey": col("movement_id"), "location.code": col("to_loc"),
					"counted": qtyCol("qty"), "countId": col("movement_id"), "reasonCode": col("reason_code")})),
			wm("handling_units_packed", "", `SELECT * FROM handling_units WHERE status = 'packed'`, []string{"sscc"},
				"logistics.handling_unit.packed", local("packed_at"),
				map[string]any{"handlingUnit.sscc": col("sscc"), "shipmentId": col("shipment_id"), "location.code": col("location_code")}),
			wm("handling_units_loaded", "", `SELECT * FROM handling_units WHERE status = 'loaded'`, []string{"sscc"},
				"logistics.handling_unit.loaded", local("loaded_at"),
				map[string]any{"sscc": col("sscc"), "shipmentId": col("shipment_id"), "door.code": col("location_code")}),
			wm("shipments", "", `SELECT * FROM shipments WHERE status = 'shipped'`, []string{"shipment_id"},
				"logistics.shipment.shipped", local("shipped_at"),
				map[string]any{"shipment.shipmentId": col("shipment_id"), "shipment.bol": col("bol"), "shipment.pro": col("pro"),
					"shipment.carrier.scac": col("carrier_scac"), "shipment.equipmentId": col("equipment_id"),
					"shippedAt": local("shipped_at")}),
			wm("shipment_events", "shipment_events", "", []string{"shipment_event_id"}, "logistics.shipment.status_changed",
				utcCol("occurred_at_utc"),
				map[string]any{"shipmentId": col("shipment_id"), "milestone": map[string]any{"column": "status_code", "map": milestones},
					"sourceStatusCode": col("status_code"), "reasonCode": col("reason_code"), "stopSeq": col("stop_seq"),
					"location.city": col("city"), "location.region": col("region"), "location.country": col("country")}),
			wm("deliveries", "deliveries", "", []string{"delivery_id"}, "logistics.delivery.confirmed", utcCol("delivered_at_utc"),
				map[string]any{"delivery.shipmentId": col("shipment_id"), "delivery.stopSeq": col("stop_seq"),
					"delivery.deliveredAt": utcCol("delivered_at_utc"), "delivery.signedBy": col("signed_by")}),
			map[string]any{"name": "order_lines_deleted", "mode": "tombstones", "table": "tombstones", "key": []string{"id"},
				"retracts": "order_lines", "record_key": []string{"row_key"}, "record_version": []string{"row_version"},
				"occurred": utcCol("deleted_at")},
		}
	case SQLOutbox:
		pItem := func(prefix string) map[string]any {
			return map[string]any{prefix + "ownerId": path("owner_id"), prefix + "sku": path("sku"), prefix + "lot": path("lot")}
		}
		move := func(mt map[string]any) map[string]any {
			return map[string]any{"event_type": "logistics.inventory.moved", "occurred": mergeTime(path("occurred_at"), "local"),
				"fields": merge(pItem("movement.item."), map[string]any{"movement.sourceKey": path("movement_id"), "movement.movementType": mt,
					"movement.item.gtin": path("gtin"), "movement.from.code": path("from_loc"), "movement.to.code": path("to_loc"),
					"movement.quantity": pathQty("qty"), "movement.sscc": path("sscc"), "movement.reference": path("order_ref"),
					"movement.reasonCode": path("reason_code"), "movement.reverses": path("reverses_movement_id"),
					"movement.userId": path("user_id"), "movement.note": path("note")})}
		}
		types := map[string]any{
			"movement.created":  move(pathMap("movement_type", moveTypes)),
			"movement.reversed": move(val("adjustment_out")),
			"stock.status_changed": map[string]any{"event_type": "logistics.inventory.status_changed", "occurred": mergeTime(path("occurred_at"), "local"),
				"fields": merge(pItem("item."), map[string]any{"sourceKey": path("movement_id"), "location.code": path("from_loc"),
					"toLocation.code": path("to_loc"), "quantity": pathQty("qty"), "fromStatus": pathMap("reason_code", fromStatus),
					"toStatus": pathMap("reason_code", toStatus), "reasonCode": path("reason_code")})},
			"stock.counted": map[string]any{"event_type": "logistics.inventory.counted", "occurred": mergeTime(path("occurred_at"), "local"),
				"fields": merge(pItem("item."), map[string]any{"sourceKey": path("movement_id"), "location.code": path("to_loc"),
					"counted": pathQty("qty"), "reasonCode": path("reason_code")})},
			"order_line.status_changed": map[string]any{"event_type": "logistics.order_line.status_changed", "occurred": mergeTime(path("status_at"), "local"),
				"fields": map[string]any{"order.ownerId": path("owner_id"), "order.orderNo": path("order_no"), "lineNo": path("line_no"),
					"item.ownerId": path("owner_id"), "item.sku": path("sku"), "item.gtin": path("gtin"), "status": path("status"),
					"shipmentId": path("shipment_id")}},
			"handling_unit.packed": map[string]any{"event_type": "logistics.handling_unit.packed", "occurred": mergeTime(path("packed_at"), "local"),
				"fields": map[string]any{"handlingUnit.sscc": path("sscc"), "shipmentId": path("shipment_id"), "location.code": path("location_code")}},
			"handling_unit.loaded": map[string]any{"event_type": "logistics.handling_unit.loaded", "occurred": mergeTime(path("loaded_at"), "local"),
				"fields": map[string]any{"sscc": path("sscc"), "shipmentId": path("shipment_id"), "door.code": path("location_code")}},
			"shipment.shipped": map[string]any{"event_type": "logistics.shipment.shipped", "occurred": mergeTime(path("shipped_at"), "local"),
				"fields": map[string]any{"shipment.shipmentId": path("shipment_id"), "shipment.bol": path("bol"), "shipment.pro": path("pro"),
					"shipment.carrier.scac": path("carrier_scac"), "shipment.equipmentId": path("equipment_id")}},
			"shipment.status_reported": map[string]any{"event_type": "logistics.shipment.status_changed", "occurred": mergeTime(path("occurred_at"), "instant"),
				"fields": map[string]any{"shipmentId": path("shipment_id"), "milestone": pathMap("status_code", milestones),
					"sourceStatusCode": path("status_code"), "reasonCode": path("reason_code"), "stopSeq": path("stop_seq"),
					"location.city": path("city"), "location.region": path("region"), "location.country": path("country")}},
			"shipment.delivered": map[string]any{"event_type": "logistics.delivery.confirmed", "occurred": mergeTime(path("delivered_at"), "instant"),
				"fields": map[string]any{"delivery.shipmentId": path("shipment_id"), "delivery.stopSeq": path("stop_seq"),
					"delivery.deliveredAt": mergeTime(path("delivered_at"), "instant"), "delivery.signedBy": path("signed_by")}},
		}
		created := utcCol("created_at") // the outbox row's time: these payloads carry none
		order := func(event string, occurred map[string]any) map[string]any {
			return map[string]any{"event_type": event, "occurred": occurred,
				"fields": orderFields(path, path("lines"), owner("payload", "owner_id"))}
		}
		receipt := func(event string, occurred map[string]any, extra map[string]any) map[string]any {
			return map[string]any{"event_type": event, "occurred": occurred,
				"fields": merge(receiptFields(path, path("lines"), owner("payload", "owner_id")), extra)}
		}
		types["order.created"] = order("logistics.order.received", mergeTime(path("released_at"), "local"))
		types["order.changed"] = order("logistics.order.changed", created)
		types["receipt.expected"] = receipt("logistics.receipt.expected", created, nil)
		types["receipt.completed"] = receipt("logistics.receipt.completed", mergeTime(path("received_at"), "local"),
			map[string]any{"completedAt": mergeTime(path("received_at"), "local")})
		tables = []any{map[string]any{"name": "outbox", "mode": "outbox", "table": "outbox", "key": []string{"id"}, "types": types}}
	default:
		return nil, fmt.Errorf("sql connector mode %q: want %s or %s", mode, SQLTables, SQLOutbox)
	}
	base["tables"] = tables
	return base, nil
}

func mergeTime(f map[string]any, mode string) map[string]any {
	f["time"] = mode
	return f
}

// FileDropConfig is the file-drop connector's configuration block for the
// simulator's file drops. The drop directories must be the inbox/
// directories of drop roots (<root>/inbox), as the connector lays them
// out; stateDir is the connector's own directory.
func FileDropConfig(cfg Config, stateDir string) (map[string]any, error) {
	cfg.SetDefaults()
	w, err := NewWorld(&cfg)
	if err != nil {
		return nil, err
	}
	root := func(dir string) (string, error) {
		if filepath.Base(dir) != "inbox" {
			return "", fmt.Errorf("drop directory %s is not the inbox/ of a drop root", dir)
		}
		return filepath.Dir(dir), nil
	}
	var items []any
	for _, it := range w.CanonicalItems() {
		var packs []any
		for _, p := range it.GetPacks() {
			packs = append(packs, map[string]any{"uom": p.GetUom(), "gtin": p.GetGtin(), "qty_in_base": p.GetQtyInBase()})
		}
		items = append(items, map[string]any{"sku": it.GetSku(), "owner": it.GetOwnerId(), "base_uom": it.GetBaseUom(), "packs": packs})
	}
	partners := map[string]any{cfg.Site.EDIID: map[string]any{}}
	for _, p := range w.Partners() {
		m := map[string]any{}
		if p.OwnerID != "" {
			m["owner_id"] = p.OwnerID
		}
		if p.SCAC != "" {
			m["scac"], m["name"] = p.SCAC, p.Name
		}
		partners[p.ID] = m
	}
	out := map[string]any{"site_id": cfg.Site.ID, "time_zone": cfg.Site.TimeZone, "owner_id": w.Owners[0].ID,
		"state_dir": stateDir, "poll_interval": "500ms", "units": uomMap, "items": items,
		"mappings": map[string]any{"wms-csv": map[string]any{
			"types": map[string]any{"RECEIPT": moved("receipt"), "PUTAWAY": moved("putaway"), "PICK": movedRef("pick"),
				"PACK": movedRef("pack"), "LOAD": movedRef("transfer"), "SHIP": movedRef("ship"), "ADJUSTMENT": moved("adjustment"),
				"STATUS_CHANGE": map[string]any{"event": "status_changed"}, "CYCLE_COUNT": map[string]any{"event": "counted"}},
			"reasons": map[string]any{"QC_HOLD": map[string]any{"from": "available", "to": "on_hold"},
				"DAMAGED": map[string]any{"from": "available", "to": "damaged"}, "QC_RELEASE": map[string]any{"from": "on_hold", "to": "available"}},
			"extract":     map[string]any{"expected": map[string]any{"from": "note", "pattern": `book was ([0-9]+(?:\.[0-9]+)?)`}},
			"time_layout": "2006-01-02 15:04:05", "date_layout": "2006-01-02"}},
		"x12": map[string]any{"partners": partners}}
	if d := cfg.Drops.AckDir(); d != "" {
		out["x12"].(map[string]any)["outbox"] = d
	}
	var inboxes []any
	if cfg.Drops.CSV != "" {
		r, err := root(cfg.Drops.CSV)
		if err != nil {
			return nil, err
		}
		inboxes = append(inboxes, map[string]any{"name": "wms", "dir": r, "format": "csv", "pattern": "*.csv", "mapping": "wms-csv",
			"source": cfg.Identity.CSV,
			"pickup": map[string]any{"mode": "rename"},
			"csv": map[string]any{"columns": map[string]any{"id": []string{"movement_id"}, "site": []string{"site_code"},
				"type": []string{"movement_type"}, "expiry": []string{"expiry_date"}, "from": []string{"from_loc"}, "to": []string{"to_loc"},
				"reference": []string{"order_ref"}, "reason": []string{"reason_code"}, "reverses": []string{"reverses_movement_id"},
				"user": []string{"user_id"}, "version": []string{"row_version"}, "recorded_at": []string{"last_modified"},
				"owner": []string{"owner_id"}}}})
	}
	seen := map[string]bool{}
	for i, d := range []string{cfg.Drops.dir945(), cfg.Drops.dir214(), cfg.Drops.dir846()} {
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		r, err := root(d)
		if err != nil {
			return nil, err
		}
		inboxes = append(inboxes, map[string]any{"name": fmt.Sprintf("edi%d", i+1), "dir": r, "format": "x12",
			"pickup": map[string]any{"mode": "rename"}})
	}
	out["inboxes"] = inboxes
	return out, nil
}

func moved(mt string) map[string]any { return map[string]any{"event": "moved", "movement": mt} }
func movedRef(mt string) map[string]any {
	return map[string]any{"event": "moved", "movement": mt, "order_reference": true}
}
