// Package filedrop is the file-drop connector: it turns the files a
// warehouse (or its trading partners) drop into directories — WMS movement
// exports in CSV or XML, X12 documents, JSON lines of canonical events —
// into canonical logistics events, exactly once across crashes, with every
// bad record or file rejected or quarantined with a code and a location.
// The plugin binary is cmd/dray-connector-filedrop.
//
// # Lifecycle
//
// Each inbox is a drop root with four directories on one file system
// (package dropdir):
//
//	inbox/  →  work/  →  archive/YYYY/MM/DD/<sha256>_<name>
//	                  ↘  quarantine/<name>  +  <name>.reason.json
//
// A poll lists inbox/ and claims the files that are ready (by rename into
// work/, then fsync of both directories). A claimed file is hashed, checked
// for duplicates and read in batches of at most batch_size records (and
// 2 MiB of events); each batch goes to the agent with the cursor after it.
// Only when the agent has committed a batch (Emit returned) are the files
// it completed finished: their 997s written, a line per file appended to
// the journal (fsync), then renamed to the archive or, with a reason file,
// to quarantine (fsync of the directories). Several small files share a
// batch; a large file spans many.
//
// Safe pickup, per inbox (pickup.mode):
//
//	rename       the producer writes under a temporary name and renames (default);
//	             names starting with '.' or '~' and *.tmp, *.part, *.partial,
//	             *.filepart, *.crdownload, *.swp are never picked up
//	done_marker  <name> is ready when <name>.done exists (marker_suffix)
//	stable       size and mtime unchanged over stable_polls polls (default 2)
//	             poll_interval apart, and at least min_age old (default 10s)
//
// min_age applies to every mode. fsnotify events on inbox/ only make the
// next poll come sooner (watch: false turns them off); the poll decides.
//
// # Duplicates
//
// A file whose SHA-256 matches a file archived before (the journal keeps
// dedup_window, default 90 days) is archived without emitting anything and
// journaled as a duplicate, whatever its name. Each X12 interchange is
// keyed by sender, receiver and ISA13 (x12.Interchange.Key) and hashed by
// its segments (not its bytes): the same key and hash again (the same
// interchange re-sent, with other line breaks) is skipped — a file of only
// such interchanges is archived as a duplicate — while the same key with
// another hash is a reused control number and quarantines the file
// (x12_duplicate_interchange). A file quarantined before is read again when
// re-dropped: that is how an operator retries it after fixing the
// configuration.
//
// # Cursor, journal and restarts
//
// The cursor (cursor.go) is JSON:
//
//	{"v":1,"seq":42,"ctl":17,"done":[…files this batch finished…],
//	 "cur":{"inbox":"wms","name":"big.csv","sha256":"…","off":1048576,"line":8812,"rec":8811}}
//
// seq numbers the files that emitted (1, 2, 3 …); ctl is the last 997
// control number used; done lists the files the batch completed, with their
// outcome (and, for quarantines, code, message and location; for X12, the
// interchanges and their 997 control numbers); cur is the file being read
// when the batch ended mid-file and the position after its last record:
// byte offset and line (CSV, JSON lines) and record index (every format).
// The journal (package journal, <state_dir>/journal.jsonl) holds one line
// per finished file. On Read the connector:
//
//  1. finishes the cursor's done files still in work/ — their events are
//     committed, so they are archived (997s written) without emitting again;
//  2. re-emits, from the archive, the files the journal finished after the
//     cursor's seq (an older cursor: the agent lost commits), with the same
//     event ids and without writing their 997s again;
//  3. reads the files left in work/: the cursor's cur file after its
//     position (same name and hash), any other from its start;
//  4. polls.
//
// Event ids depend only on the record (site, source, record key and
// version), never on the read, so a record read again has its old id. A
// second connector on the same state directory waits for the first's lock
// (flock).
//
// # Formats
//
// format is csv, x12, xml, jsonl, or auto (by extension: .csv/.tsv,
// .edi/.x12/.edx/.dat, .xml, .jsonl/.ndjson/.json).
//
// CSV (package csvfile): a header line, then one movement per record, read
// as a stream with resumable offsets. Delimiter (csv.delimiter: ",", ";",
// "\t", "|"), quote (csv.quote, or "none"), lazy quotes, encoding (utf-8 or
// iso-8859-1), a UTF-8 BOM and CRLF are accepted; quoted fields may span
// lines. Columns are found by header name (csv.columns: field → accepted
// names, matched case-insensitively; a field not listed is looked for under
// its own name). The movement mapping (package movement) makes events.
//
// XML (package xmlfile): a root element (xml.root) holding records
// (xml.record, a path below the root); xml.paths binds fields to paths
// relative to the record ("Quantity", "Quantity/@uom", "@id"). DOCTYPEs are
// refused, so no entity is ever declared or expanded; nesting is capped
// (xml.max_depth, default 32). The file is checked whole before any record
// is emitted, so a truncated or malformed file emits nothing.
//
// X12 (packages x12 and x12map): 940, 943, 944, 945, 846, 856, 204, 214
// and 210, mapped by x12map with x12.partners, x12.city_zones and the site's
// zone; a 997 per interchange is written to x12.outbox as
// 997_<ctl>_<sender>_<ISA13>.edi (control numbers from
// x12.first_control_number up, never reused), dated by the received file's
// modification time, and reported by an integration.acknowledged event. A
// set with errors is rejected (and refused in the 997); the other sets flow.
//
// JSON lines: one canonical CloudEvent per line, decoded strictly
// (canonical.UnmarshalJSON: unknown fields, duplicate keys, trailing data,
// bad UTF-8, lone surrogates, numbers out of range, times without a zone
// are refused), validated, and refused when its siteid is another site's.
//
// # Rejects and quarantine
//
// A bad record becomes a Reject (code, reason, ref "file:line:col" — for
// X12 "file:line:col ISA13=…;GS06=…;ST02=… SEG-ee (segment n)" — and the
// record as payload) and the rest of the file flows. A file that cannot be
// read at all is quarantined whole, with one Reject (its first 4 KiB as
// payload) and a reason file. Codes:
//
//	whole file   unknown_format, format_not_mapped, file_too_large,
//	             csv_empty, csv_bad_header, csv_missing_header, csv_duplicate_header,
//	             xml_dtd, xml_too_deep, xml_truncated, xml_wrong_root, xml_syntax,
//	             xml_encoding, xml_empty, xml_record_too_large,
//	             x12_* envelope codes (x12_isa_length, x12_control_mismatch,
//	             x12_truncated, x12_unsupported_version …), x12_duplicate_interchange
//	CSV record   csv_bad_encoding, csv_unclosed_quote, csv_bare_quote, csv_quote,
//	             csv_line_too_long, csv_field_count
//	mapping      missing_field, unknown_code, bad_number, bad_time, bad_date,
//	             time_nonexistent, time_invalid, unit_unknown, item_unknown,
//	             negative_quantity, zero_quantity, bad_direction, foreign_site,
//	             repeated_field, gtin_unknown, gtin_level_mismatch, fractional_each,
//	             uom_not_in_pack_hierarchy, gs1_check_digit, gs1_length,
//	             gs1_non_digit, invalid_record
//	X12 set      x12_se_count, x12_se_missing, x12_control_mismatch, x12map_* …
//	             (see package x12map)
//	JSON line    json_<code> of canonical.DecodeError (json_duplicate_key,
//	             json_number_out_of_range, json_invalid_surrogate,
//	             json_trailing_data, json_wrong_type, json_unknown_field,
//	             json_time_without_zone …), json_syntax_error,
//	             json_line_too_long, json_invalid_event, json_foreign_site
//
// # Configuration
//
// Top level (every key strict; every problem reported with its path):
//
//	site_id          the site (required)
//	time_zone        the site's IANA zone (required)
//	owner_id         the default owner of CSV and XML records and items
//	state_dir        the connector's own directory: journal, lock (required)
//	poll_interval    default 2s (50ms … 1h)
//	batch_size       records per batch, default 500 (1 … 10000)
//	max_file_bytes   cap for X12 and XML files, default 32 MiB (CSV and JSON
//	                 lines stream and have no cap)
//	dedup_window     how long the journal remembers, default 2160h (90 days)
//	watch            fsnotify hints, default true
//	units            site unit code → UN/ECE Rec 20/21 code (before the X12
//	                 codes and Rec 20 itself)
//	items            the item master: sku, owner, base_uom, packs[] {uom, gtin,
//	                 qty_in_base}; quantities of these items are converted to the
//	                 base unit
//	mappings         name → movement mapping: types, reasons, extract, defaults,
//	                 time_layout, date_layout, time_zone, decimal_comma,
//	                 negative_quantity, require_items (see package movement)
//	inboxes[]        name, dir, pattern, format, source, source_system, mapping,
//	                 pickup {mode, min_age, stable_polls, marker_suffix},
//	                 csv {delimiter, quote, lazy_quotes, encoding, max_line_bytes,
//	                 max_record_lines, columns}, xml {root, record, max_depth,
//	                 max_record_bytes, paths}
//	x12              outbox, ack (default true), first_control_number,
//	                 partners {id: {owner_id, scac, name, time_zone}}, city_zones,
//	                 charge_codes, sku_qualifiers, currency, source_prefix
//
// Events of CSV and XML inboxes have source "urn:dray:<site>:file:<inbox>"
// (inboxes[].source) and sourcesystem "file.csv" or "file.xml"
// (inboxes[].source_system); X12 events x12map's ("urn:dray:<site>:edi:<ISA06>").
//
// An example, for the fixtures' site MEM1 (Memphis, America/Chicago, a 3PL
// holding ACME's goods); testdata/mem1.json is the same configuration as
// JSON, and TestDocExample keeps the two equal:
//
//	site_id: MEM1
//	time_zone: America/Chicago
//	owner_id: ACME
//	state_dir: /var/lib/dray/filedrop
//	poll_interval: 2s
//	batch_size: 500
//	units: {CA: XCS, PL: XPX, KG: KGM, EA: EA}
//	items:
//	  - sku: AF-1001
//	    base_uom: EA
//	    packs:
//	      - {uom: CA, gtin: "10614141001016", qty_in_base: "12"}
//	      - {uom: PL, qty_in_base: "480"}
//	  - sku: AF-1002
//	    base_uom: EA
//	    packs:
//	      - {uom: CA, gtin: "10614141001023", qty_in_base: "12"}
//	      - {uom: PL, qty_in_base: "480"}
//	  - sku: AF-2050
//	    base_uom: EA
//	    packs:
//	      - {uom: EA, gtin: "00614141020508", qty_in_base: "1"}
//	      - {uom: CA, gtin: "10614141020505", qty_in_base: "12"}
//	  - sku: AF-3300
//	    base_uom: KGM
//	    packs:
//	      - {uom: KGM, gtin: "00614141033003", qty_in_base: "1"}
//	mappings:
//	  wms-csv:
//	    types:
//	      RECEIPT: {event: moved, movement: receipt}
//	      PUTAWAY: {event: moved, movement: putaway}
//	      REPLENISH: {event: moved, movement: replenishment}
//	      PICK: {event: moved, movement: pick, order_reference: true}
//	      PACK: {event: moved, movement: pack, order_reference: true}
//	      SHIP: {event: moved, movement: ship, order_reference: true}
//	      ADJUSTMENT: {event: moved, movement: adjustment}
//	      STATUS_CHANGE: {event: status_changed}
//	      CYCLE_COUNT: {event: counted}
//	    reasons:
//	      QC_HOLD: {from: available, to: on_hold}
//	      DAMAGED: {from: available, to: damaged}
//	      QC_RELEASE: {from: on_hold, to: available}
//	    extract:
//	      expected: {from: note, pattern: 'book was ([0-9]+(?:\.[0-9]+)?)'}
//	    time_layout: "2006-01-02 15:04:05"
//	    date_layout: "2006-01-02"
//	  wms-eu:
//	    types:
//	      WE: {event: moved, movement: receipt}
//	      WA: {event: moved, movement: pick, order_reference: true}
//	      INV: {event: counted}
//	    time_layout: "02.01.2006 15:04"
//	    date_layout: "02.01.2006"
//	    decimal_comma: true
//	  wms-xml:
//	    types:
//	      RECEIPT: {event: moved, movement: receipt}
//	      PICK: {event: moved, movement: pick, order_reference: true}
//	      STATUS_CHANGE: {event: status_changed}
//	      CYCLE_COUNT: {event: counted}
//	    reasons:
//	      QC_HOLD: {from: available, to: on_hold}
//	    time_layout: "2006-01-02T15:04:05"
//	inboxes:
//	  - name: wms                      # the WMS's nightly and hourly movement exports
//	    dir: /srv/drop/wms
//	    format: csv
//	    pattern: "*.csv"
//	    mapping: wms-csv
//	    pickup: {mode: stable, stable_polls: 2, min_age: 30s}
//	    csv:
//	      delimiter: ","
//	      columns:
//	        id: [movement_id]
//	        site: [site_code]
//	        type: [movement_type]
//	        expiry: [expiry_date]
//	        from: [from_loc]
//	        to: [to_loc]
//	        reference: [order_ref]
//	        reason: [reason_code]
//	        reverses: [reverses_movement_id]
//	        user: [user_id]
//	        version: [row_version]
//	        recorded_at: [last_modified]
//	  - name: eu                       # a European client's export: ';' and decimal commas
//	    dir: /srv/drop/eu
//	    format: csv
//	    mapping: wms-eu
//	    csv:
//	      delimiter: ";"
//	      max_line_bytes: 4096
//	      columns:
//	        id: [Beleg, Belegnummer]
//	        type: [Bewegungsart]
//	        occurred_at: [Zeitpunkt]
//	        sku: [Artikel]
//	        qty: [Menge]
//	        uom: [Einheit]
//	        from: [Von]
//	        to: [Nach]
//	        reference: [Auftrag]
//	        lot: [Charge]
//	        expiry: [MHD]
//	  - name: edi                      # the trading partners' X12, over SFTP
//	    dir: /srv/drop/edi
//	    format: x12
//	    pickup: {mode: rename}
//	  - name: xml
//	    dir: /srv/drop/xml
//	    format: xml
//	    mapping: wms-xml
//	    pickup: {mode: done_marker}
//	    xml:
//	      root: MovementExport
//	      record: Movement
//	      paths:
//	        id: "@id"
//	        type: Type
//	        occurred_at: OccurredAt
//	        sku: Item/@sku
//	        gtin: Item/@gtin
//	        lot: Item/@lot
//	        qty: Quantity
//	        uom: Quantity/@uom
//	        from: From
//	        to: To
//	        reason: Reason
//	        reference: OrderRef
//	        expected: Expected
//	  - name: events                   # canonical events from another dray-aware system
//	    dir: /srv/drop/events
//	    format: jsonl
//	x12:
//	  outbox: /srv/drop/edi-out
//	  partners:
//	    ACMEFOODS: {owner_id: ACME}
//	    NORTHWIND3PL: {}
//	    XMPL: {scac: XMPL, name: XAMPLE FREIGHT LINES}
//
// With it, the fixture CSV gives receipts, putaways, picks, packs (with
// their SSCC) and ships as inventory.moved in eaches with the cases as
// received_quantity, the QC_HOLD and DAMAGED rows as inventory.status_changed,
// the reversal 884114 (-1 EA from PF-07-11) as adjustment_out of 1 EA
// reversing 884113, the cycle count 884118 as inventory.counted (13 CA =
// 156 EA counted, 168 EA expected from "book was 14"), and the backdated
// receipt 884119 at its own occurrence time (recorded 16:20:33 local). PACK
// rows stay movements: a handling_unit.packed per row would split one
// pallet's contents over several events that share an idempotency key (the
// SSCC and the minute), so that a sink would keep only the first; the
// packed pallet comes whole from the 945 or 856.
package filedrop
