// Package x12map turns X12 transaction sets, as package x12 reads them, into
// canonical logistics events. It is the X12 half of the file-drop
// connector: the connector claims a file, calls x12.Parse, then Map, spools
// Result.Events, quarantines Result.Rejects, and sends the 997 that
// x12.Acknowledge(ic, Supported).Encode997 writes (Result.Ack is the event
// that reports it).
//
// # Sets
//
//	940 warehouse shipping order        order.received (W05-01 N), order.changed (R), order.cancelled (C)
//	943 stock transfer shipment advice  receipt.expected
//	944 stock transfer receipt advice   receipt.completed, with received and damaged per line
//	945 warehouse shipping advice       shipment.shipped with a ShippedLine per line, and
//	                                    order_line.status_changed per line (W12-01 CC shipped,
//	                                    CP short_shipped with short_closed, BP backordered)
//	846 inventory inquiry/advice        inventory.snapshot
//	856 ship notice/manifest            shipment.shipped with handling units (MAN GM SSCCs in the HL tree)
//	204 motor carrier load tender       shipment.tendered
//	214 shipment status                 shipment.status_changed per AT7, delivery.confirmed for a D1
//	                                    with a proof-of-delivery name
//	210 freight invoice                 freight_charge.invoiced
//
// Each set's file (set945.go …) documents the segments it reads. A set is
// mapped whole or not at all: one bad line rejects its set with every
// problem found, and the other sets of the file still map.
//
// # Identity
//
// Every event comes from canonical.NewEvent with
//
//	source        Config.SourcePrefix + ISA06, e.g. "urn:dray:MEM1:edi:XMPL"
//	sourcesystem  "edi.x12." + ST01, e.g. "edi.x12.214"
//	record key    "ISA13=…;GS06=…;ST02=…" for the set's main event, plus a suffix for the
//	              others: ";W12=<line>" (945 lines), ";AT7=<n>" (214 sets with several
//	              AT7s), ";pod" (proof of delivery); version ""
//	sourceref     "ISA13=…;GS06=…;ST02=…"
//
// so a file read again, or the same interchange with other line breaks or
// delimiters, gives the same ids. Idempotency keys come from
// canonical.FactKey: a 214 departure and the WMS's record of it share a key.
//
// # Time
//
// Times with a coded zone (X12 element 623: ET, CS, UT, 01 … 24) follow the
// code list (see timeCodes). A time without a code or with LT is local:
//   - in a 214, where the status happened: MS1 city/state/country, else the
//     stop the milestone belongs to (its N4); in a 204, the stop's N4;
//   - in the warehouse documents (940, 943, 944, 945, 846, 856), the
//     sending partner's Partner.TimeZone, by default the site's zone.
//
// A place's zone comes from Config.CityZones, then a built-in list of cities
// in the minority zone of split states (Knoxville TN, El Paso TX …), then a
// table of US states and territories and Canadian provinces (regionZones).
// Local times go through localtime.Resolve: a time in a spring-forward gap
// is rejected (time_nonexistent), one in a fall-back hour resolves to the
// earlier instant with a time_ambiguous warning. Documents with no event
// time of their own (orders, tenders, invoices, transfer advices) take the
// group's creation time, GS04/GS05, in the sender's zone.
//
// # Rejects
//
// Codes of this package:
//
//	x12map_unsupported_set      ST01 is not one of the sets above (the 997 rejects it too, AK5 1)
//	x12map_missing              a segment or element the mapping needs is absent
//	x12map_unknown_code         a status (W12-01, AT7-01), qualifier (QTY-01, G62-01, HL-03),
//	                            charge (L1-08), condition (W13-03), entity (N1-01), stop
//	                            reason (S5-02) or time code not in the tables
//	x12map_unsupported_purpose  a 940 W05-01 or 204 B2A-01 purpose dray does not map
//	x12map_quantity_mismatch    ordered − shipped ≠ the stated difference, a status that
//	                            contradicts the quantities, a W13 in another unit
//	x12map_total_mismatch       W03, W76, W14, B3-07 or L3-05 totals disagree with the lines
//	x12map_owner_unknown        no configured partner gives the owner id
//	x12map_zone_unknown         a local time at a place the zone tables do not know
//	x12map_bad_hierarchy        an 856 HL parent that does not precede it, a LIN outside HL I
//
// and from the packages that found the problem: x12 (x12_se_count,
// x12_se_missing, x12_control_mismatch, x12_bad_segment … for sets the
// parser rejected), units (unit_unknown), gs1 (gs1_check_digit,
// gs1_length, gs1_non_digit), localtime (time_nonexistent, time_invalid),
// canonical (invalid_decimal and the validation codes such as required or
// total_mismatch). Every Reject carries the set's reference, the segment
// (ID, position in the set, byte offset in the file) and element at fault,
// and the set's text as Payload.
package x12map
