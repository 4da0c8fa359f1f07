// Package canonical is dray's shared vocabulary: the canonical logistics event
// (a CloudEvents 1.0 envelope with dray's extensions), the entities it carries,
// and the rules every producer and consumer applies to them.
//
// The model is defined once, in protobuf (proto/dray/canonical/v1), and the Go
// types in this package are generated from it; connectors in other languages,
// the plugin RPC, the agent→relay wire and both stores share that schema.
// Field annotations in the .proto files ((rules) and (event) options) drive
// validation, the JSON codec and the generated JSON Schema, so a rule is
// written in one place.
//
// What this package gives on top of the generated types:
//
//   - constructing events: [NewEvent] with deterministic ids ([EventID]) and
//     idempotency keys ([IdempotencyKey], [FactKey]), subjects, lanes
//     ([LaneOf]) and the event-type registry ([Types], [LookupType]);
//   - validation: [Validate] returns every problem with a field path and a
//     stable code, not only the first one;
//   - codecs: CloudEvents structured JSON ([MarshalJSON], and the strict
//     [UnmarshalJSON] that refuses unknown fields, duplicate keys, trailing
//     data, bad UTF-8 and times without a zone) and a compact binary codec
//     ([MarshalBinary], [UnmarshalBinary]) for the wire and the stores;
//   - exact quantities and money ([ParseDecimal], [Item.ToBase],
//     [ParseImpliedDecimal]);
//   - status ranks and order-independent transitions ([MergeOrderLine],
//     [MergeShipment]).
//
// Related leaf packages: gs1 (GTIN/SSCC/GLN check digits), codes (ISO country
// and currency codes, UN/LOCODE, SCAC), units (UN/ECE Rec 20/21 and the X12
// unit table) and localtime (site-local wall times in IANA zones).
//
// canonical imports nothing else of dray's; plugin authors may import it.
package canonical

//go:generate go run ./internal/jsonschema/gen -out schema
