// Package wmssim is a living warehouse: a seeded WMS simulator for the
// demo, the chaos harness and benchmarks. It runs a 3PL site's floor in
// simulated time, writes what happens where a real WMS would — its
// database (SQLite or PostgreSQL) and file drops (CSV movement exports,
// X12 945, 214 and 846) — and logs every fact it creates, as the canonical
// event it must become, in a fsynced ground-truth file from which a
// harness counts loss, duplicates, wrong quarantines and missed bad input
// exactly (docs/RELIABILITY.md). The binary is testenv/cmd/dray-wmssim.
//
// The same seed and configuration give the same world, facts, rows and
// files byte for byte (with wall_start fixed; TestDeterminism). Each part
// of the simulation draws from its own random stream, so turning bad input
// on does not change the orders.
//
// # The world
//
// One site (default MEM1, America/Chicago, GLN 0614141000104, X12 id
// NORTHWIND3PL — the fixtures' Memphis 3PL) holding the goods of 1–4
// owners (ACME FOODS, BOLT BEVERAGE, CRISP SNACKS, DELTA HOME), each with
// an item master (SKUs AF-1001 …: 60% case-picked, 30% each-picked, 10%
// weighed in kilograms; EA, CA and PL pack levels with GTIN-14s of valid
// check digits, indicator 0/1/5; lot and expiry control) and delivery
// points in cities whose zones agree with x12map's tables. Locations:
// inbound docks DOCK-IN-nn, doors DOOR-nn, RECV-STAGE-01, pick faces
// A-aa-bb-c (cases), PF-aa-bb (eaches), BULK-nn, reserve R-aa-bb-c,
// outbound lanes STAGE-OUT-nn, QA-HOLD-01, DMG-01. Carriers by SCAC (XMPL
// XAMPLE FREIGHT LINES …), suppliers with their own GS1 prefixes.
//
// # What happens
//
// Orders arrive from the ERP as a Poisson stream (1–6 lines). Each is
// allocated (first expiring first, pick face before reserve), picked into
// an outbound lane — a pick may find stock missing (short_pick: the book
// stays wrong until a cycle count finds it) or damaged (damage: moved to
// DMG-01) —, packed onto SSCC pallets (valid check digits; a line may span
// pallets), loaded at a door and shipped (goods issue; the 945 reports
// each line CC, CP or BP). The carrier reports X3 at pickup, AF departed,
// sometimes SD delayed (with a K1 reason, at a city on the way), X1 at
// delivery and D1 delivered with "POD SIGNED <name>" — each at the place's
// local time (AT7-07 LT) — in batched 214s, some a batch late. Lines may be
// cancelled before allocation and hard-deleted. Stock running low raises
// an ASN (receipt.expected); the truck arrives hours later (RECEIPT in
// pallets, cases or kilograms, sometimes short, sometimes keyed late with
// an earlier occurred_at), then PUTAWAY to the pick face and reserve.
// Around that: QC holds and their release, found stock (some reversed as
// entry errors with a negative row), spot cycle counts (absolute), and an
// 846 per owner every snapshot interval. Opening stock is loaded at the
// start as OPENING adjustments.
//
// # Pace
//
// Time is simulated: Acceleration simulated seconds pass per wall second
// (60: a day in 24 minutes). The order rate is set so that facts arrive at
// about Rate per wall second once the floor is busy (an order brings about
// 36 facts over its life; the first hours are quieter while the pipeline
// fills, and PODs come a simulated day later). MaxSpeed drops the pacing
// (tests, benchmarks). Stop.Duration is wall time at pace: the run ends
// when the simulated clock has advanced Duration × Acceleration, so a
// MaxSpeed run with the same configuration simulates the same world.
//
// Business times are site-local wall times (occurred_at and the CSV
// columns) or instants where the source carries them. last_modified,
// outbox created_at and tombstone deleted_at are on the technical clock:
// wall_start (default: when the run starts) plus simulated time divided by
// Acceleration, in whole seconds, UTC — next to the database's own now(),
// as a timestamp-watermark connector needs. Under MaxSpeed that clock runs
// ahead of the real one.
//
// # The database
//
// Schema(dialect) is the DDL (dray-wmssim schema --dialect sqlite|postgres).
// Every business row carries row_version (one counter for the whole
// database, like SQL Server rowversion) and last_modified (shared by every
// row of a transaction, whole seconds, so equal timestamps are common).
// Every change is one transaction, with its outbox row(s). Tables, and
// the event each row version becomes (the sql connector's table entries,
// see SQLConnectorConfig; their names start the record keys):
//
//	table                  versions                                   entry name(s) → event
//	orders                 insert only                                orders → order.received
//	order_lines            each status: released allocated picked     order_lines → order_line.status_changed
//	                       packed loaded shipped|short_shipped|
//	                       backordered delivered; cancelled lines are
//	                       stamped (deleted_at) and DELETEd
//	inventory_movements    insert only; movement_id nullable (bad     inventory_movements → inventory.moved,
//	                       rows only), no primary key                 inventory_status_changes → inventory.status_changed,
//	                                                                  inventory_counts → inventory.counted
//	inventory_balance      state per location/item/lot/status         none (a totals table: never map it)
//	handling_units         packed, then loaded                        handling_units_packed, handling_units_loaded
//	handling_unit_contents insert only                                none (part of the pallet)
//	shipments              planned, loading, shipped                  shipments (status shipped) → shipment.shipped
//	shipment_events        insert only (a 214 imported)               shipment_events → shipment.status_changed
//	deliveries             insert only (a D1 with POD)                deliveries → delivery.confirmed
//	receipts(+_lines)      expected, then completed                   receipts_expected, receipts_completed
//	outbox                 insert only                                outbox (mode outbox), by type
//	tombstones             AFTER DELETE trigger on order_lines        order_lines_deleted → event.retracted
//
// plus master data (sites, owners, items, item_packs, locations, carriers,
// ship_tos). Quantities are DECIMAL(15,3) in the row's unit (X12 codes EA,
// CA, PL, KG; a reversal row is negative); SQLite stores them with NUMERIC
// affinity. Outbox types: order.created, order.changed (a line cancelled),
// order_line.status_changed, movement.created, movement.reversed (the
// quantity taken back, positive), stock.status_changed, stock.counted,
// handling_unit.packed, handling_unit.loaded, shipment.shipped,
// shipment.status_reported, shipment.delivered, receipt.expected,
// receipt.completed; the payload is the row (outbox times of carrier
// reports are RFC 3339 with offset). Late transactions: long_txn of the
// floor's insert-only transactions (putaway, holds, adjustments, counts)
// commit long_txn_delay later on the technical clock, their rows keeping
// the timestamps, row versions and outbox ids of when they began — rows
// that appear behind a watermark, and outbox ids that fill a gap.
//
// # File drops
//
// Files are written as ".<name>.tmp" in the drop directory, fsynced and
// renamed (producer rename; the file-drop connector never picks up dot or
// .tmp names), then the directory is fsynced. Point each drop at the
// inbox/ of a file-drop root.
//
// CSV movement exports, every intervals.csv: inventory_movements_<site>_
// <YYYYMMDD_HHMMSS>_<nnnn>.csv, the movements committed since the last
// export in movement_id order, in the fixture's format: its header (plus
// owner_id when the site has more than one owner), LF line ends, quotes
// only where needed, local wall times, quantities in the row's unit
// (integers, three decimals for KG, negative reversal rows, receipts in
// PL), the "book was N" note on counts, and row_version/last_modified.
//
// X12, version 00401, "*" "~" ">" with a newline after each segment, one
// functional group per interchange, ISA13 = GS06 increasing per sender:
//
//	x12_945_<owner>_<ISA13>.edi   every intervals.x12_945, per owner, NORTHWIND3PL → owner (GS SW):
//	                              one set per shipment: W06, N1 ST/SF/DE, N9 BM/CN, G62 11 (LT),
//	                              W27, LX + MAN GM per pallet, W12 (+ N9 LT, N9 LI line no) per
//	                              line part, unshipped lines in their own LX, W03
//	x12_214_<SCAC>_<ISA13>.edi    every intervals.x12_214, per carrier and owner (GS QM): one set
//	                              per status, as the fixture: B10, L11 BM/PO, N1 SH/CN + N4, LX,
//	                              AT7 (LT), MS1, MS2, K1 (delay reason, POD), AT8 (AF, D1)
//	x12_846_<owner>_<ISA13>.edi   every intervals.snapshot and at the start (GS IB): BIA, N1 WH
//	                              (91 site id), N1 DE, LIN VN/UK/LT + QTY 17 on hand, 33 available
//	                              per item and lot, CTT
//
// # Ground truth
//
// Truth (JSON lines, see Record) is written ahead: the lines of a group of
// transactions and files are written and fsynced before the group commits
// and renames. A clean stop ends with an "end" line; after a SIGKILL of the
// simulator, the last group's lines may name rows or files that never
// appeared (check them). Lines, each with a gapless seq:
//
//	{"rec":"header","seq":1,"header":{"format":"dray-wmssim-truth/1","seed":42,"site":"MEM1",
//	  "timeZone":"America/Chicago","start":…,"wallStart":…,"acceleration":60,"store":"sqlite",
//	  "drops":{…},"sources":{"db":…,"csv":…,"ediPrefix":…},"routes":{"erp":[…],"tms":[…]},
//	  "partners":[{"id":"ACMEFOODS","ownerId":"ACME","name":…},{"id":"XMPL","scac":"XMPL",…}]}}
//	{"rec":"fact","seq":2,"id":"F1","kind":"movement","type":"logistics.inventory.moved",
//	  "subject":"item/ACME/AF-1001","key":"<idempotency key>","sinks":["erp"],
//	  "time":"2025-03-14T10:00:00Z","via":[
//	    {"src":"table","table":"inventory_movements","pk":"889399","version":"5524566",
//	     "source":"urn:dray:MEM1:wms-db","recordKey":"inventory_movements/889399",
//	     "recordVersion":"5524566","eventId":"…"},
//	    {"src":"outbox","table":"outbox","pk":"2","source":…,"recordKey":"outbox/2","eventId":"…"}],
//	  "detail":{"owner":"ACME","sku":"AF-1001","qty":"853","uom":"CA","baseQty":"10236","baseUom":"EA",
//	    "movementId":"889399","movementType":"ADJUSTMENT","reasonCode":"OPENING","to":"A-01-02-A",…}}
//	{"rec":"via","seq":…,"id":"F1","via":[{"src":"csv","path":".../inventory_movements_…_0001.csv",
//	  "sha256":"…","line":2,"source":"urn:dray:MEM1:file:wms","recordKey":"889399",
//	  "recordVersion":"5524566","eventId":"…"}]}
//	{"rec":"bad","seq":…,"id":"B7","category":"x12_se_count","code":"x12_se_count","scope":"set",
//	  "where":[{"src":"x12","path":…,"sha256":…,"ref":"ISA13=…;GS06=…;ST02=0004","segment":"SE",
//	    "segmentPos":14,"element":1,"offset":1234}],
//	  "wouldBe":[{"type":"logistics.shipment.status_changed","subject":"shipment/SHPX0000003",
//	    "key":"…","eventId":"…"}]}
//	{"rec":"end","seq":…,"end":{"reason":"facts","facts":…,"bad":…,"files":…,"rows":…,"lateCommits":…,
//	  "kinds":{…},"sim":…}}
//
// A fact is one thing that happened (kind: order, line_status,
// line_deleted, order_changed, movement, status_change, count, hu_packed,
// hu_loaded, shipment, milestone, pod, receipt_expected, receipt_completed,
// snapshot). key is canonical.FactKey of its data: the same departure, the
// same movement, the same line status read from the database, the outbox,
// a CSV export or an X12 file has one key. Its vias are every place it was
// written, each with the identity a connector gives it —
// canonical.EventID(site, source, recordKey, recordVersion):
//
//	table      sql connector, watermark: "<entry name>/<pk>", version row_version
//	tombstone  sql connector, tombstones: "order_lines_deleted/<id>", no version; the
//	           fact's key names the retracted "order_lines/<id>" version
//	outbox     sql connector, outbox: "outbox/<id>", no version
//	csv        file-drop CSV inbox: movement_id, version row_version, source identity.csv
//	x12        file-drop X12 inbox (x12map): "ISA13=…;GS06=…;ST02=…" plus ";W12=<line>"
//	           (945 lines) or ";pod", source edi_prefix + ISA06
//
// Line cancellations are two facts, because the modes say it differently:
// line_deleted (event.retracted, via tombstone) and order_changed
// (order.changed, via outbox, keyed by its own event id). sinks are the
// routes' sinks of the event type (DefaultRoutes: the reference ERP and
// TMS resources that accept it; a retraction goes where the retracted
// type goes). time is the event time as the sources state it: the local
// wall time resolved in its zone (the earlier instant in a fall-back
// hour, flagged ambiguous); X12 carries minutes.
//
// # Counting with it
//
// For a run whose connectors read a set of sources (table and tombstone
// vias for the sql connector's table entries, outbox vias for its outbox
// entry, csv and x12 vias for the file-drop inboxes):
//
//  1. A fact is expected when at least one via it can be read by is
//     read, not superseded (Truth.Superseded: a row version replaced by a
//     later version or deleted before a watermark reader saw it; such a
//     version is optional: it may or may not be delivered).
//  2. Its keys are the fact's key (or the via's Key). At each sink of the
//     fact, applied ledger records with one of those keys: 0 → lost; more
//     than one → duplicated (distinct event ids of one fact applied under
//     different keys, or a key applied twice).
//  3. A ledger record whose key or event id is a bad input's wouldBe →
//     bad input missed (accepted); one that matches no fact and no bad
//     input → foreign.
//  4. Quarantine entries are located (CSV "file:line", X12 set reference,
//     "<entry>/<pk>" or "outbox/<id>"): one at a fact's via → wrongly
//     quarantined; a bad input's where (for a read source) with no
//     quarantine entry → bad input missed (rows with a NULL key share one
//     location, so locations match by count).
//
// Truth.Count implements these rules over a sink's applied records and a
// quarantine list; ReadTruth reads the file back.
//
// # Bad input
//
// Each bad input is extra junk — a movement id from 990000001 up, an order
// SO-X…, a shipment SHPX…, a report INV-X… — never a copy of a fact, so
// the accounting stays exact; wouldBe holds its would-be identities. Codes
// are those the connectors give (TestCSVExportsMap, TestX12FilesParseAndMap,
// TestSQLConnectorReadsTheTruth):
//
//	category            where                                     scope  code
//	csv_unknown_unit    a row in an export (uom CSE, BAGS)        row    unit_unknown
//	csv_bad_number      qty 2O, 1.2.5, 12..0, "1,5"              row    bad_number
//	csv_field_count     the note left out                         row    csv_field_count
//	csv_bad_date        occurred_at 14/03/2025 10:15 …            row    bad_time
//	csv_invalid_utf8    a note in Latin-1 (per file)              row    csv_bad_encoding
//	csv_unclosed_quote  an opening quote never closed (per file)  row    csv_unclosed_quote (the reader recovers at the next line)
//	x12_se_count        an extra set whose SE01 is one too many   set    x12_se_count (the other sets flow)
//	x12_bad_sscc        an extra 945 set, MAN GM check digit off  set    gs1_check_digit
//	x12_truncated       an extra interchange cut mid-way          file   x12_truncated
//	db_null_key         a movement row with movement_id NULL      row    sql_null_key (table), sql_invalid_event (outbox)
//	db_out_of_range     a cycle count of a negative quantity      row    sql_bad_value
//
// CSV shares are per data row except csv_invalid_utf8 and
// csv_unclosed_quote (per file); X12 shares per file (x12_bad_sscc per
// 945 file); database shares per floor transaction.
//
// # Connectors
//
// SQLConnectorConfig and FileDropConfig (dray-wmssim connectors) write the
// configuration blocks with which the sql and file-drop connectors read
// the simulated WMS as the ground truth expects; the tests run them.
// Orders and receipts come with their lines: from the outbox payload, or
// (tables) from a JSON aggregate of the line tables in the entry's query,
// filled by the sql connector's each.
package wmssim
