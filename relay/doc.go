// Package relay is dray's central relay: it accepts agents' batches on its
// MQTT v5 ingest endpoint (relay/ingest), stores them exactly once in the
// relay log (relay/relaylog), and (in later parts) fans them out to sinks.
//
// Run wires the parts together from a Config and owns their lifetimes: the
// endpoint stops accepting first, the log closes last, so every PUBACK the
// relay sent was for a batch already fsynced.
package relay
