// Package relay is dray's central relay: it accepts agents' batches on its
// MQTT v5 ingest endpoint (relay/ingest), stores them exactly once in the
// relay log (relay/relaylog), and fans them out to sinks.
//
// The fan-out: each configured sink (relay/sink: an HTTP endpoint with its
// credentials, limits and breaker) has a dispatcher (relay/dispatch) with
// its own durable relay log cursor, delivering what the sink's routes
// (relay/route: jq matching and mapping) select, in order per partition
// key; refusals go to the dead-letter store (relay/dlq). The admin API
// (relay/admin) lists and re-drives dead letters and replays ranges to one
// sink; the dray-relay dlq and replay commands are its clients.
//
// Run wires the parts together from a Config and owns their lifetimes.
// Start: relay log, dead-letter store, dispatchers (registered as log
// consumers before any event is accepted), admin API, ingest. Stop, in
// reverse: the endpoint stops accepting first, so every PUBACK the relay
// sent was for a batch already fsynced; then the admin API, the
// dispatchers (which write their cursors), the dead-letter store, and the
// log closes last.
package relay
