// Package agent is dray's edge agent: it runs on a warehouse server, pulls
// events from its sources into the spool (agent/spool) and forwards them to
// the relay through the uplink (agent/uplink).
//
// Run wires the parts together from a Config and owns their lifetimes:
// sources start last and stop first (so intake stops before the uplink), the
// spool closes last. A source that fails is logged and restarted with
// backoff; it never takes the uplink down with it.
package agent
