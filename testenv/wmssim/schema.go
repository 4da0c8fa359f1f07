package wmssim

import (
	"fmt"
	"strings"
)

// Dialects the simulator writes.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// tables lists the simulator's tables in creation order (dropped in reverse).
var tables = []string{
	"sites", "owners", "items", "item_packs", "locations", "carriers", "ship_tos",
	"orders", "order_lines", "inventory_movements", "inventory_balance",
	"shipments", "handling_units", "handling_unit_contents", "shipment_events", "deliveries",
	"receipts", "receipt_lines", "outbox", "tombstones",
}

// schemaTemplate is the WMS schema with type placeholders:
//
//	{ID}     64-bit integer key          {QTY}   exact decimal quantity
//	{LTS}    site-local wall time        {TS}    technical time (UTC)
//	{JSON}   JSON document               {SERIAL} self-numbering key
//
// Every business table carries row_version (one counter across the
// database, like SQL Server rowversion: a later write has a larger
// version) and last_modified (technical clock, UTC, whole seconds, shared
// by every row of a transaction), so a connector can follow it by a
// (last_modified, key) watermark, by row_version, or by the outbox.
const schemaTemplate = `
-- Master data (written once at start; not events).
CREATE TABLE sites (
  site_code     TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  gln           TEXT NOT NULL,
  time_zone     TEXT NOT NULL,
  edi_id        TEXT NOT NULL,
  address       TEXT, city TEXT, region TEXT, postal_code TEXT, country TEXT
);
CREATE TABLE owners (
  owner_id      TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  edi_id        TEXT NOT NULL,
  gln           TEXT NOT NULL,
  gs1_prefix    TEXT NOT NULL
);
CREATE TABLE items (
  owner_id          TEXT NOT NULL REFERENCES owners (owner_id),
  sku               TEXT NOT NULL,
  description       TEXT NOT NULL,
  base_uom          TEXT NOT NULL,          -- EA or KG
  handling          TEXT NOT NULL,          -- case, each or bulk
  lot_controlled    INTEGER NOT NULL,       -- 0 or 1
  expiry_controlled INTEGER NOT NULL,
  weight_kg         {QTY} NOT NULL,         -- per base unit
  pick_face         TEXT NOT NULL,
  PRIMARY KEY (owner_id, sku)
);
CREATE TABLE item_packs (
  owner_id      TEXT NOT NULL,
  sku           TEXT NOT NULL,
  uom           TEXT NOT NULL,              -- EA, CA, PL, KG (X12 355 codes)
  gtin          TEXT NOT NULL,              -- GTIN-14, differs per level
  qty_in_base   {QTY} NOT NULL,
  PRIMARY KEY (owner_id, sku, uom),
  FOREIGN KEY (owner_id, sku) REFERENCES items (owner_id, sku)
);
CREATE TABLE locations (
  location_code TEXT PRIMARY KEY,
  location_type TEXT NOT NULL,              -- dock, storage, pick_face, staging, hold, damage
  area          TEXT NOT NULL
);
CREATE TABLE carriers (
  scac          TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  mode          TEXT NOT NULL               -- TL or LT
);
CREATE TABLE ship_tos (
  ship_to_id    TEXT PRIMARY KEY,
  owner_id      TEXT NOT NULL REFERENCES owners (owner_id),
  name          TEXT NOT NULL,
  gln           TEXT NOT NULL,
  address       TEXT NOT NULL, city TEXT NOT NULL, region TEXT NOT NULL,
  postal_code   TEXT NOT NULL, country TEXT NOT NULL,
  time_zone     TEXT NOT NULL
);

-- Orders released by the ERP: immutable once inserted (order.received).
CREATE TABLE orders (
  order_id            {ID} PRIMARY KEY,
  site_code           TEXT NOT NULL,
  owner_id            TEXT NOT NULL,
  order_no            TEXT NOT NULL,
  po_number           TEXT,
  order_type          TEXT NOT NULL,        -- OUTBOUND
  ship_to_id          TEXT NOT NULL,
  carrier_scac        TEXT NOT NULL,
  service_level       TEXT,
  order_date          DATE NOT NULL,
  requested_ship_date DATE NOT NULL,
  line_count          INTEGER NOT NULL,
  released_at         {LTS} NOT NULL,
  row_version         {ID} NOT NULL,
  last_modified       {TS} NOT NULL,
  UNIQUE (owner_id, order_no)
);
-- Order lines: every update is a new row_version (order_line.status_changed);
-- a cancelled line is stamped (deleted_at) and hard-deleted (tombstone).
CREATE TABLE order_lines (
  order_line_id   {ID} PRIMARY KEY,
  order_id        {ID} NOT NULL REFERENCES orders (order_id),
  order_no        TEXT NOT NULL,
  line_no         INTEGER NOT NULL,
  owner_id        TEXT NOT NULL,
  sku             TEXT NOT NULL,
  gtin            TEXT NOT NULL,
  uom             TEXT NOT NULL,
  qty_ordered     {QTY} NOT NULL,
  qty_allocated   {QTY} NOT NULL,
  qty_picked      {QTY} NOT NULL,
  qty_packed      {QTY} NOT NULL,
  qty_loaded      {QTY} NOT NULL,
  qty_shipped     {QTY} NOT NULL,
  qty_short       {QTY} NOT NULL,           -- short-closed (945 W12 CP)
  qty_backordered {QTY} NOT NULL,           -- 945 W12 BP
  qty_delivered   {QTY} NOT NULL,
  status          TEXT NOT NULL,            -- released allocated picked packed loaded shipped short_shipped backordered delivered
  status_at       {LTS} NOT NULL,
  shipment_id     TEXT,
  deleted_at      {TS},
  row_version     {ID} NOT NULL,
  last_modified   {TS} NOT NULL,
  UNIQUE (order_id, line_no)
);
-- The movement journal: insert-only, one row per fact (the CSV export is
-- this table). qty is in uom; a reversal row is negative. A legacy journal:
-- no primary key, movement_id unique but nullable (NULL only in bad rows).
CREATE TABLE inventory_movements (
  movement_id          {ID},
  site_code            TEXT NOT NULL,
  movement_type        TEXT NOT NULL,       -- RECEIPT PUTAWAY PICK PACK LOAD SHIP STATUS_CHANGE CYCLE_COUNT ADJUSTMENT
  occurred_at          {LTS} NOT NULL,      -- site-local wall time
  owner_id             TEXT,
  sku                  TEXT,                -- NULL only in bad rows
  gtin                 TEXT,
  lot                  TEXT,
  expiry_date          DATE,
  qty                  {QTY} NOT NULL,
  uom                  TEXT NOT NULL,
  from_loc             TEXT,
  to_loc               TEXT,
  sscc                 TEXT,
  order_ref            TEXT,
  reason_code          TEXT,
  reverses_movement_id {ID},
  user_id              TEXT NOT NULL,
  note                 TEXT,
  row_version          {ID} NOT NULL,
  last_modified        {TS} NOT NULL
);
-- Stock on hand (state, not facts: never map it to events alongside the
-- movements). Base units.
CREATE TABLE inventory_balance (
  location_code   TEXT NOT NULL,
  owner_id        TEXT NOT NULL,
  sku             TEXT NOT NULL,
  lot             TEXT NOT NULL,            -- '' when not lot controlled
  status          TEXT NOT NULL,            -- available, on_hold, damaged
  expiry_date     DATE,
  qty_on_hand     {QTY} NOT NULL,
  qty_allocated   {QTY} NOT NULL,
  base_uom        TEXT NOT NULL,
  row_version     {ID} NOT NULL,
  last_modified   {TS} NOT NULL,
  PRIMARY KEY (location_code, owner_id, sku, lot, status)
);
-- Shipments: planned at packing, loading at the door, shipped at goods
-- issue (the final version; shipment.shipped).
CREATE TABLE shipments (
  shipment_id     TEXT PRIMARY KEY,
  site_code       TEXT NOT NULL,
  owner_id        TEXT NOT NULL,
  order_id        {ID} NOT NULL,
  carrier_scac    TEXT NOT NULL,
  mode            TEXT NOT NULL,
  bol             TEXT NOT NULL,
  pro             TEXT NOT NULL,
  equipment_id    TEXT NOT NULL,
  door            TEXT,
  ship_to_id      TEXT NOT NULL,
  status          TEXT NOT NULL,            -- planned, loading, shipped
  pallet_count    INTEGER NOT NULL,
  gross_weight_lb {QTY} NOT NULL,
  shipped_at      {LTS},
  row_version     {ID} NOT NULL,
  last_modified   {TS} NOT NULL
);
-- Handling units (SSCC pallets): packed, then loaded.
CREATE TABLE handling_units (
  sscc            TEXT PRIMARY KEY,
  owner_id        TEXT NOT NULL,
  order_id        {ID} NOT NULL,
  shipment_id     TEXT NOT NULL,
  package_type    TEXT NOT NULL,            -- PX (pallet)
  status          TEXT NOT NULL,            -- packed, loaded
  location_code   TEXT NOT NULL,
  gross_weight_kg {QTY} NOT NULL,
  packed_at       {LTS} NOT NULL,
  loaded_at       {LTS},
  row_version     {ID} NOT NULL,
  last_modified   {TS} NOT NULL
);
CREATE TABLE handling_unit_contents (
  sscc            TEXT NOT NULL REFERENCES handling_units (sscc),
  seq             INTEGER NOT NULL,
  order_line_id   {ID} NOT NULL,
  sku             TEXT NOT NULL,
  gtin            TEXT NOT NULL,
  lot             TEXT,
  expiry_date     DATE,
  qty             {QTY} NOT NULL,
  uom             TEXT NOT NULL,
  PRIMARY KEY (sscc, seq)
);
-- Carrier status imported from 214s: insert-only (shipment.status_changed;
-- a D1 with pod_name is also delivery.confirmed).
CREATE TABLE shipment_events (
  shipment_event_id {ID} PRIMARY KEY,
  shipment_id     TEXT NOT NULL,
  status_code     TEXT NOT NULL,            -- X12 AT7-01: X3 AF SD X1 D1
  reason_code     TEXT NOT NULL,            -- AT7-02
  occurred_at_utc {LTS} NOT NULL,           -- UTC, as resolved on import
  local_time      {LTS} NOT NULL,           -- the wall time the carrier reported, at the place
  time_zone       TEXT NOT NULL,            -- the place's zone
  city            TEXT NOT NULL,
  region          TEXT NOT NULL,
  country         TEXT NOT NULL,
  stop_seq        INTEGER NOT NULL,         -- 1 pickup, 2 delivery, 0 en route
  pod_name        TEXT,
  remark          TEXT,
  row_version     {ID} NOT NULL,
  last_modified   {TS} NOT NULL
);
-- Proofs of delivery from 214 D1 reports: insert-only (delivery.confirmed).
CREATE TABLE deliveries (
  delivery_id       {ID} PRIMARY KEY,
  shipment_id       TEXT NOT NULL,
  shipment_event_id {ID} NOT NULL,
  stop_seq          INTEGER NOT NULL,
  delivered_at_utc  {LTS} NOT NULL,         -- UTC
  local_time        {LTS} NOT NULL,         -- wall time at the stop
  time_zone         TEXT NOT NULL,
  signed_by         TEXT NOT NULL,
  row_version       {ID} NOT NULL,
  last_modified     {TS} NOT NULL
);
-- Inbound: an ASN (receipt.expected), then received (receipt.completed).
CREATE TABLE receipts (
  receipt_id      {ID} PRIMARY KEY,
  owner_id        TEXT NOT NULL,
  receipt_no      TEXT NOT NULL,
  po_number       TEXT NOT NULL,
  supplier_id     TEXT NOT NULL,
  carrier_scac    TEXT NOT NULL,
  expected_date   DATE NOT NULL,
  status          TEXT NOT NULL,            -- expected, completed
  received_at     {LTS},
  row_version     {ID} NOT NULL,
  last_modified   {TS} NOT NULL,
  UNIQUE (owner_id, receipt_no)
);
CREATE TABLE receipt_lines (
  receipt_line_id {ID} PRIMARY KEY,
  receipt_id      {ID} NOT NULL REFERENCES receipts (receipt_id),
  line_no         INTEGER NOT NULL,
  sku             TEXT NOT NULL,
  lot             TEXT,
  expiry_date     DATE,
  sscc            TEXT,
  uom             TEXT NOT NULL,
  qty_expected    {QTY} NOT NULL,
  qty_received    {QTY},
  row_version     {ID} NOT NULL,
  last_modified   {TS} NOT NULL
);
-- Transactional outbox, written in the same transaction as the change.
CREATE TABLE outbox (
  id              {ID} PRIMARY KEY,
  aggregatetype   TEXT NOT NULL,
  aggregateid     TEXT,                      -- NULL only in bad rows
  type            TEXT NOT NULL,
  payload         {JSON} NOT NULL,
  created_at      {TS} NOT NULL
);
-- Hard deletes, fed by trigger.
CREATE TABLE tombstones (
  id              {SERIAL},
  table_name      TEXT NOT NULL,
  row_key         TEXT NOT NULL,
  row_version     {ID} NOT NULL,            -- the deleted row's last version
  deleted_at      {TS} NOT NULL
);

CREATE INDEX order_lines_watermark ON order_lines (last_modified, order_line_id);
CREATE INDEX orders_watermark ON orders (last_modified, order_id);
CREATE UNIQUE INDEX inventory_movements_id ON inventory_movements (movement_id);
CREATE INDEX inventory_movements_watermark ON inventory_movements (last_modified, movement_id);
CREATE INDEX inventory_movements_rowversion ON inventory_movements (row_version);
CREATE INDEX shipments_watermark ON shipments (last_modified, shipment_id);
CREATE INDEX handling_units_watermark ON handling_units (last_modified, sscc);
CREATE INDEX shipment_events_watermark ON shipment_events (last_modified, shipment_event_id);
CREATE INDEX deliveries_watermark ON deliveries (last_modified, delivery_id);
CREATE INDEX receipts_watermark ON receipts (last_modified, receipt_id);
CREATE INDEX tombstones_watermark ON tombstones (deleted_at, id);
`

const sqliteTrigger = `
CREATE TRIGGER order_lines_tombstone AFTER DELETE ON order_lines
BEGIN
  INSERT INTO tombstones (table_name, row_key, row_version, deleted_at)
  VALUES ('order_lines', CAST(OLD.order_line_id AS TEXT), OLD.row_version, COALESCE(OLD.deleted_at, OLD.last_modified));
END;
`

const postgresTrigger = `
CREATE FUNCTION order_lines_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tombstones (table_name, row_key, row_version, deleted_at)
  VALUES ('order_lines', OLD.order_line_id::text, OLD.row_version, COALESCE(OLD.deleted_at, OLD.last_modified));
  RETURN OLD;
END $$;
CREATE TRIGGER order_lines_tombstone AFTER DELETE ON order_lines
  FOR EACH ROW EXECUTE FUNCTION order_lines_tombstone();
`

// Schema returns the DDL of the simulated WMS for a dialect.
func Schema(dialect string) (string, error) {
	var r *strings.Replacer
	trigger := ""
	switch dialect {
	case SQLite:
		r = strings.NewReplacer("{ID}", "BIGINT", "{QTY}", "DECIMAL(15,3)", "{LTS}", "TIMESTAMP", "{TS}", "TIMESTAMP",
			"{JSON}", "TEXT", "{SERIAL}", "INTEGER PRIMARY KEY AUTOINCREMENT")
		trigger = sqliteTrigger
	case Postgres:
		r = strings.NewReplacer("{ID}", "BIGINT", "{QTY}", "NUMERIC(15,3)", "{LTS}", "TIMESTAMP", "{TS}", "TIMESTAMPTZ",
			"{JSON}", "JSONB", "{SERIAL}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
		trigger = postgresTrigger
	default:
		return "", fmt.Errorf("unknown dialect %q (sqlite or postgres)", dialect)
	}
	return strings.TrimLeft(r.Replace(schemaTemplate), "\n") + trigger, nil
}

// dropSQL drops the simulator's tables (and the trigger function).
func dropSQL(dialect string) string {
	var b strings.Builder
	for i := len(tables) - 1; i >= 0; i-- {
		b.WriteString("DROP TABLE IF EXISTS " + tables[i])
		if dialect == Postgres {
			b.WriteString(" CASCADE")
		}
		b.WriteString(";\n")
	}
	if dialect == Postgres {
		b.WriteString("DROP FUNCTION IF EXISTS order_lines_tombstone();\n")
	}
	return b.String()
}
