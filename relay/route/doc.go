// Package route decides what the relay sends to a sink for an event, and
// in what shape, from configuration alone: no mapping code per target.
//
// A route names a sink and matches events by type (exact, or a prefix
// ending in "*"), site, lane and an optional jq boolean filter over the
// event's CloudEvents structured JSON (canonical.MarshalJSON). It renders
// the request with jq (github.com/itchyny/gojq) as well: the path is a jq
// expression yielding a string that starts with "/" (e.g.
// `"/tms/v1/shipments/\(.data.shipmentId | @uri)/milestones"`), the body is
// the output of the transform expression (mode "jq"), or the event itself
// in CloudEvents structured mode (mode "cloudevents"). Method and extra
// headers are static. Every expression is compiled once, by Compile, when
// the configuration loads; a compile error names the route's field.
//
// With drop_nulls, members whose value is null are removed from the
// transform's output at every depth, so optional fields map plainly.
//
// Expressions see the event as their input and one variable, $relay:
// {seq, site, received, lane, route, sink}. $ENV and env are empty (secrets
// live in the relay's environment), and input/inputs have nothing to read.
// Only an expression's first output is used.
//
// A Table holds the routes of one sink in configuration order; the first
// route that matches an event wins, so an event makes at most one request
// per sink, under one Idempotency-Key.
//
// Every rendered request carries Idempotency-Key (the event's
// idempotencykey, or its id when it has none), traceparent (the event's, or
// one whose trace id is derived from the event id, stable across retries),
// X-Correlation-ID (correlationid, when set), dray-site and ce-id.
//
// Batch renders the body of a batch request from rendered requests — an
// OData 4.01 JSON batch (native, no jq), a CloudEvents batch
// (application/cloudevents-batch+json), or any JSON built by a jq
// expression over the items — and reads per-item results from the
// response (natively for JSON batches, by a jq expression otherwise).
//
// # How expressions run
//
// Mapping expressions are mostly paths, object and array construction,
// `as` bindings, `if`, `//`, string interpolation and @uri. Those have a
// fast form (fastjq.go): closures over the same values, run over the event
// read on demand (canonical.JQDoc: a member is converted when the
// expression reads it; a mapping that reads ten members of a forty-member
// event converts ten). A goods-movement mapping takes ~2.7 µs that way
// against ~8 µs for building the document and running gojq. Anything else
// — other operators, functions, try, reduce — runs in gojq, and so does an
// expression whose fast form meets a value it would not treat exactly as
// jq does (an index into a string, an iteration over an object, a member
// without a JSON form): the fast form gives up, never errs, and gojq then
// decides, so results and errors are gojq's either way. Tests hold the
// fast form to gojq over the golden events, mutated documents and
// generated values.
//
// gojq's input is the event's CloudEvents JSON as Go values, built from
// the message directly (canonical.JSONValue, generated with the JSON
// codec) rather than encoded and decoded again; a test holds it equal to
// the JSON round trip over every golden event. Other JSON turned into jq
// values (an event's JSON in a jq batch body) goes through a small
// purpose-built parser (jsonvalue.go), about four times faster than
// encoding/json into `any`, with the same result (a fuzz target compares
// them). Rendered bodies are written by appendJQ, byte for byte what
// gojq.Marshal writes (the sinks' idempotency fingerprints and the relay's
// fact digests are over those bytes).
package route
