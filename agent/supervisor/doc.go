// Package supervisor runs one connector plugin for the agent and keeps it
// running: it starts the pinned binary (plugins/pluginhost: SHA-256 check,
// AutoMTLS, a fresh SecureConfig per start, Pdeathsig and a parent pipe so
// the plugin never outlives the agent), configures it, and reads from it,
// committing every batch into the spool with its cursor and its rejects in
// one transaction (spool.CommitBatch).
//
// # Restarts
//
// Every failure — the binary refused (wrong SHA-256), the handshake failed,
// the configuration was refused, the process crashed, it stopped
// heartbeating or missed an RPC deadline (pluginhost kills it), the
// connector's Read failed, or a commit failed — ends the process; the
// supervisor waits a jittered exponential backoff (attempt n waits a random
// duration in [d/2, d], d = min(MaxBackoff, MinBackoff·2^(n-1))) and starts
// a new process, which resumes from the cursor committed in the spool:
// whatever was read but not committed is read again and yields the same
// event ids. A plugin that ran for MaxBackoff or longer before failing
// starts the backoff over. A Read that returns nil (the source is
// exhausted) leaves the plugin up and idle, so retries still reach it.
//
// # Never trust a plugin
//
// The SDK validates events in the plugin, but the agent does not rely on
// it: every event is decoded and checked again here (check.go) —
// canonical.Validate, the agent's site, a type the connector declared in
// Info — and routed to its lane (canonical.LaneOf). An event that fails
// goes to quarantine (origin "agent") with the reason and the event as JSON;
// the batch's other events go on. Rejects from the plugin go to quarantine
// as they are (origin "connector"). Nothing a plugin sends is dropped.
//
// # Retry
//
// Retry re-processes one quarantined record through the running plugin's
// optional Retry ability (sdk.Retrier), with the connector's current
// configuration and, if the operator gave one, a corrected payload. The
// result is checked like a batch; events and no rejects resolve the record
// (spool.ResolveQuarantine: the events and the record's removal in one
// transaction); anything else counts a failed attempt and keeps the record.
//
// # Logs
//
// Everything the supervisor and the plugin log goes to the agent's slog
// logger with connector=<name>; the plugin's stderr lines (hclog JSON) keep
// their level and attributes (pluginhost bridges them).
package supervisor
