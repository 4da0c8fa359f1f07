// Package admin is the relay's authenticated admin HTTP API, and its
// client. The running relay holds the dead-letter store and the relay log
// open, so the `dray-relay dlq` and `dray-relay replay` commands are
// clients of this API rather than readers of the stores.
//
// Every call but GET /healthz needs "Authorization: Bearer <token>" with a
// token from the configuration (compared as SHA-256 digests in constant
// time). The whole access decision is one function, Server.authorize(r,
// action): roles will be added there.
//
// Routes (JSON in and out; errors are {"error": "…"}):
//
//	GET  /healthz                                   no auth
//	GET  /v1/sinks                                  each sink: cursor, lag, counters, breaker, dead letters
//	GET  /v1/sinks/{sink}/dlq?after=ID&limit=N      a page of dead-letter summaries (N ≤ 500)
//	GET  /v1/sinks/{sink}/dlq/{id}                  one dead letter, with its event as CloudEvents JSON
//	POST /v1/sinks/{sink}/dlq/{id}/redrive          re-render with the current routes, send; 200 delivered,
//	                                                422 refused again, 502 sink kept failing, 409 no route
//	POST /v1/sinks/{sink}/dlq/{id}/discard          {"reason": "…"}; removes it
//	POST /v1/sinks/{sink}/replays                   {"since", "until", "sites", "types"}; 202 with a job
//	GET  /v1/replays, /v1/replays/{id}              replay jobs and their results
//	GET  /debug/pprof/…                             Go profiles (net/http/pprof)
//
// Every state-changing call — redrive, discard, replay (at its start and
// at its end) — writes a structured audit line (action, actor, remote
// address, sink, ids, outcome) to the audit logger, whatever the outcome;
// the relay points it at an fsynced JSON-lines file, <data>/audit.log, and
// its own log.
package admin
