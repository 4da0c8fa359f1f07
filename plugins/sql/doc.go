// Package sql is the sql connector: it polls a warehouse's WMS database
// (PostgreSQL through pgx, MySQL and MariaDB through go-sql-driver/mysql,
// SQLite through modernc.org/sqlite, SQL Server through go-mssqldb) and
// turns what changed into canonical events. Which tables are read and how a
// row becomes an event is configuration, not code. The binary is
// cmd/dray-connector-sql.
//
// # Modes
//
// Each configured table has a mode.
//
// watermark — a timestamp column (updated_at) and the record key. Rows are
// read in (timestamp, key) order with the composite predicate
//
//	ts >= :ts AND (ts > :ts OR (ts = :ts AND key > :key)) AND ts <= clock − lag
//	ORDER BY ts, key LIMIT batch_size
//
// so equal timestamps never lose or repeat a row (composite keys are
// expanded into (k1 > v1) OR (k1 = v1 AND k2 > v2) …, which every dialect
// runs; the leading ts >= :ts is the index range the planner seeks, without
// which it walks the (ts, key) index from its start on every page). "Now" is the database clock (clock, default now() / NOW(6) /
// 'now' / SYSDATETIME()), never the agent's, so clock skew between the
// agent and the database does not matter. The commit-lag window (lag,
// default 5s) leaves the newest rows for a later poll: a transaction that
// stamped a row and has not committed yet is not passed over as long as it
// commits within lag, so set lag to at least the longest WMS transaction
// (on PostgreSQL now() is the transaction's start). For transactions longer
// than that, the overlap re-scan: every rescan_interval (default 15s), once
// the table is caught up, the rows with a timestamp within lag + overlap
// (default 1m) of the clock and at or before the watermark are read again,
// and those not read before are emitted. "Read before" is decided by an
// 8-byte digest of (record key, version) of every row read in the overlap
// window, kept in the cursor (at most overlap_max_rows, default 1000; past
// that the window is cut at the watermark and a warning logged): a re-scan
// after a restart knows what the previous process emitted, so late rows are
// emitted exactly once, and nothing else is repeated. The ids are
// canonical.EventID(site, source, "<name>/<key>", <version>) with the
// version the version columns (default the timestamp), so a re-read row
// version has the same id, and an update that bumps the timestamp is a new
// version with a new id.
//
// outbox — a table the WMS writes in the same transaction as its change,
// with the columns id, aggregatetype, aggregateid, type, payload. Rows are
// read by id (WHERE id > :id ORDER BY id). An id missing between two read
// ids may belong to a transaction that has not committed yet (sequences
// hand out ids at insert, not at commit): up to max_gaps (default 100)
// missing ids are remembered in the cursor and asked for again (OR id IN
// (…)) until they appear or gap_timeout (default 1m) passes — then they are
// taken for rolled back. Each type value maps to an event (types); the
// payload is read with JSON paths.
//
// rowversion — SQL Server: rowversion > :last AND rowversion <
// MIN_ACTIVE_ROWVERSION() ORDER BY rowversion. MIN_ACTIVE_ROWVERSION() is
// the lowest rowversion of a transaction still open, so nothing behind the
// cursor can commit later; no lag or overlap is needed.
//
// tombstones — hard deletes, through a table a trigger fills: AFTER DELETE
// it inserts the deleted row's key and version columns (OLD.…) and the time
// of the delete, with an increasing id. It is read like an outbox, and each
// row becomes an event.retracted (reason deleted_at_source) whose
// retractedEventId is the id of the deleted row's last version: the id is
// not looked up but computed the way it was made, EventID(site, source,
// "<retracts>/<record_key>", <record_version>), which is why the trigger
// copies the version columns (same SQL types as in the table, so they
// render the same). If the last version was never emitted (the row was
// inserted and deleted within the lag window, or was rejected), the
// retraction names an id no consumer has: consumers ignore it.
//
// # Cursor
//
// The cursor is JSON, one state per table by name:
//
//	{"v":1,"tables":{
//	  "movements":  {"at":{"ts":{"time":"2025-03-14T16:05:00.123456Z"},"key":["MV-0042"]},
//	                 "seen":"<base64 of sorted 8-byte digests>",
//	                 "floor":{"ts":…,"key":…}},
//	  "outbox":     {"id":4711,"gaps":[{"id":4709,"since":1741968300}]},
//	  "moves_rv":   {"rv":"00000000000007d1"}}}
//
// at is the last row read ("null_key":true when it had no key); values keep
// the type the driver gave — integers as JSON numbers, text as strings,
// {"time":…} with the driver's offset, {"float":…}, {"bytes":base64} — so
// binding them again compares equal to what is stored (on SQLite the
// watermark is read as stored, +ts, not parsed). A table missing from the
// cursor starts from the beginning. Every batch carries the whole cursor;
// the agent commits it with the batch.
//
// # Configuration
//
// Strict: unknown keys and every other problem are reported together, each
// with its path. Top level:
//
//	site_id            MEM1 (required)
//	source             default urn:dray:<site_id>:wms-db
//	source_system      default wms.db
//	time_zone          the site's IANA zone, for naive local times (required)
//	driver             postgres | mysql | sqlite | sqlserver
//	dsn | dsn_env | dsn_file   exactly one (secrets from env or a file)
//	poll_interval      1s     pause when no table had new rows
//	batch_size         500    rows per query and per batch (LIMIT / TOP)
//	statement_timeout  30s    server side: statement_timeout, max_statement_time
//	                          (MariaDB) / max_execution_time (MySQL), SQLite busy timeout
//	backoff_min/max    1s/1m  reconnection backoff (doubling, jittered)
//	tables             [...]
//
// A table:
//
//	name               stable id in the cursor and the record keys (required)
//	mode               watermark | outbox | rowversion | tombstones
//	table | query      a table or view (schema.table), or a SELECT read as one
//	key                record key columns (outbox, tombstones: the id, default id)
//	timestamp          watermark column          rowversion   rowversion column
//	version            version columns (default timestamp / rowversion)
//	clock, lag, overlap, rescan_interval, overlap_max_rows     (watermark)
//	gap_timeout, max_gaps                                      (outbox, tombstones)
//	event_type, occurred, recorded, fields                     (watermark, rowversion)
//	type_column (default type), types: {<type>: {event_type, occurred, recorded, fields}}   (outbox)
//	retracts, record_key, record_version, occurred, reason     (tombstones)
//
// fields maps targets in the event's data — dotted JSON (or proto) field
// names, checked against the canonical schema, e.g. movement.item.sku — to
// a value:
//
//	column / value     the source column, or a constant
//	path               a dotted path into a JSON column (outbox payload)
//	default            replaces NULL
//	trim               strip CHAR padding
//	map                the site's codes → canonical ones (enum names such as
//	                   pick; any string); a value not in it is rejected
//	time, layout       for times: instant | local (site wall time, resolved
//	                   in time_zone with canonical/localtime: a time in the
//	                   DST gap is rejected, one in the overlap takes the
//	                   earlier instant) | utc | unix | unix_ms; layout for text
//	uom / currency     the unit of a quantity (a field: column or value, with
//	                   its own map to Rec 20/21 codes) / of money
//	to_base            {uom: EA, qty_in_base: {column: case_qty}}: convert
//	                   through the pack size (whole eaches only)
//	received           a second quantity target for the quantity as read
//	split              separator for list targets (ssccs)
//	each               for a list of messages (order.lines, receipt lines):
//	                   column (and path) give a JSON array — an outbox
//	                   payload's, or a query's aggregate (json_agg,
//	                   JSON_ARRAYAGG, json_group_array, FOR JSON) — and
//	                   each maps the targets inside one element to a path
//	                   into the element, a column of the row (read for
//	                   every element) or a constant, with the same
//	                   settings as above; a bad element rejects the row,
//	                   located as order.lines: [i].target
//
// For example, an order and its lines from an outbox payload:
//
//	order.lines:
//	  column: payload
//	  path: lines
//	  each:
//	    lineNo:       {path: line_no}
//	    item.ownerId: {column: payload, path: owner_id}   # the order's
//	    item.sku:     {path: sku}
//	    ordered:      {path: qty, uom: {path: uom, map: {CA: XCS, EA: EA}}}
//
// Decimals are kept as exact strings; a value out of the target's range
// (a quantity that must be positive) is rejected at the source. A Location
// the mapping fills gets siteId = site_id unless mapped.
//
// # Example: a typical WMS
//
//	connectors:
//	  - name: wms
//	    plugin: /opt/dray/plugins/dray-connector-sql
//	    sha256: …
//	    config:
//	      site_id: MEM1
//	      time_zone: America/Chicago
//	      driver: postgres
//	      dsn_env: WMS_DSN          # postgres://dray_ro@wms-db/wms (a read-only role)
//	      tables:
//	        - name: movements
//	          mode: watermark
//	          table: wms.stock_movements
//	          key: [movement_id]
//	          timestamp: updated_at
//	          lag: 30s              # longest WMS transaction
//	          event_type: logistics.inventory.moved
//	          occurred: {column: moved_at, time: local}
//	          fields:
//	            movement.sourceKey:    {column: movement_id}
//	            movement.movementType: {column: move_code, map: {PCK: pick, PUT: putaway, RPL: replenishment, ADJ+: adjustment_in, ADJ-: adjustment_out}}
//	            movement.item.ownerId: {column: owner}
//	            movement.item.sku:     {column: sku, trim: true}
//	            movement.item.lot:     {column: lot}
//	            movement.from.code:    {column: from_location}
//	            movement.to.code:      {column: to_location}
//	            movement.quantity:
//	              column: qty
//	              uom: {column: uom, map: {CS: XCS, EA: EA, PL: XPX}}
//	              to_base: {uom: EA, qty_in_base: {column: units_per_uom}}
//	              received: movement.receivedQuantity
//	            movement.reference:    {column: order_no}
//	        - name: order_lines
//	          mode: watermark
//	          table: wms.order_line_status
//	          key: [owner, order_no, line_no]
//	          timestamp: status_changed_at
//	          event_type: logistics.order_line.status_changed
//	          occurred: {column: status_changed_at, time: local}
//	          fields:
//	            order.ownerId:      {column: owner}
//	            order.orderNo:      {column: order_no}
//	            lineNo:             {column: line_no}
//	            item.ownerId:       {column: owner}
//	            item.sku:           {column: sku}
//	            status:             {column: status, map: {"10": released, "20": allocated, "30": picked, "40": packed, "50": loaded, "60": shipped}}
//	            quantities.ordered: {column: qty_ordered, uom: {value: EA}}
//	            quantities.picked:  {column: qty_picked, uom: {value: EA}}
//	        - name: movements_deleted     # filled by an AFTER DELETE trigger on wms.stock_movements
//	          mode: tombstones
//	          table: wms.stock_movements_deleted
//	          key: [id]
//	          retracts: movements
//	          record_key: [movement_id]
//	          record_version: [updated_at]
//	          occurred: {column: deleted_at, time: local}
//
// with, on PostgreSQL:
//
//	CREATE TABLE wms.stock_movements_deleted (id bigserial PRIMARY KEY,
//	  movement_id bigint NOT NULL, updated_at timestamp NOT NULL, deleted_at timestamp NOT NULL DEFAULT localtimestamp);
//	CREATE FUNCTION wms.stock_movement_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
//	  BEGIN INSERT INTO wms.stock_movements_deleted (movement_id, updated_at) VALUES (OLD.movement_id, OLD.updated_at); RETURN OLD; END $$;
//	CREATE TRIGGER stock_movements_tombstone AFTER DELETE ON wms.stock_movements
//	  FOR EACH ROW EXECUTE FUNCTION wms.stock_movement_deleted();
//
// # Bad rows
//
// A row that cannot become a valid event is a Reject (the Reject*
// constants: sql_null_key, sql_bad_encoding, sql_bad_value, sql_bad_time,
// sql_unknown_code, sql_unknown_type, sql_bad_payload, sql_invalid_event)
// with every problem of the row in the reason, "<table>/<key>" as Ref and
// the row as a JSON object as Payload; the rest of the table flows.
//
// # Being gentle with the WMS
//
// One connection, one query at a time, each bounded by batch_size and the
// statement timeout; read-only sessions (PostgreSQL
// default_transaction_read_only, MySQL SET SESSION TRANSACTION READ ONLY,
// SQLite query_only; on SQL Server use a login with read rights only).
// Index (timestamp, key) — the predicate and the ORDER BY use them. On
// errors the connector drops the connection and reconnects with backoff.
//
// # Limits
//
//   - The watermark sees a change only if the WMS bumps the timestamp:
//     updates and bulk loads that do not are invisible (use an outbox, a
//     trigger that sets updated_at, or rowversion on SQL Server). Rows with
//     a NULL timestamp are never read.
//   - The timestamp and the clock must be in the same terms: a naive column
//     written with the server's local time compares with the session's
//     now(); set the session time zone (PostgreSQL TimeZone in the DSN,
//     MySQL time_zone) or clock accordingly.
//   - A late commit older than lag + overlap is not caught; the overlap
//     digests are capped (overlap_max_rows) and the window is cut, with a
//     warning, when more rows than that fall in it.
//   - Rows with a NULL key are rejected when the watermark passes them; one
//     that commits late is not re-scanned.
//   - SQL Server's SQL is unit-tested only: no SQL Server runs where the
//     integration tests run, so the rowversion mode and the sqlserver
//     dialect have not been exercised against a server.
package sql
