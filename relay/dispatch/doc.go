// Package dispatch delivers the relay log to one sink (ARCHITECTURE.md,
// guarantee 5): from the sink's own durable cursor, in order within a
// partition key, in parallel across keys, each event exactly once as the
// sink sees it.
//
// # Delivery
//
// A Dispatcher is a relay log consumer ("sink/<name>", registered before
// the relay accepts events, so retention never deletes what the sink has
// not delivered). Its reader reads from the cursor, decodes each event and
// hands it to one of Config.Workers workers, chosen by a hash of the
// event's partition key (partitionkey, else subject, else id): a key
// always goes to the same worker, which finishes its events one at a
// time, in log order. A worker routes the event (relay/route: the first
// matching route of the sink; none means the event is finished), renders
// the request and sends it (relay/sink), retrying what is retryable with
// relay/backoff until the sink takes it (2xx, or 409: it had it) or
// refuses it for good (the event goes to the dead-letter store,
// relay/dlq, durably, before it counts as finished). Nothing but shutdown
// makes a worker give up on an event.
//
// A tracker holds the events read and not finished, at most
// Config.MaxInFlight; the cursor is the lowest unfinished sequence and is
// written every Config.CursorInterval and at shutdown. After a crash the
// sink gets everything from the cursor again — what it had already
// applied comes back under the same Idempotency-Key and is absorbed. A
// failing sink stalls only its own dispatcher: every sink has its own
// reader, workers, cursor, HTTP client, breaker and rate limit.
//
// # Batches
//
// With Config.Batch, a worker takes up to MaxEvents queued events (waiting
// up to MaxWait for more when fewer are queued), renders them, and sends
// them in batches of at most MaxBytes of bodies and one event per partition
// key (so that an item the sink fails while it applies the others never
// lets a later event of its key overtake it). The body is a CloudEvents
// batch or built by a jq expression; per-item results, when the batch
// configuration says how to read them, finish, dead-letter or retry items
// one by one; otherwise the response's status applies to every item.
//
// # Replay and redrive
//
// Replay re-sends a range of the log (by received time, relaylog.SeqAtTime;
// optionally only some sites and types) to this sink, through its current
// routes, in order per key, without touching the cursor. Redrive sends one
// dead letter again, rendered by the current routes (so a mapping fix takes
// effect), and removes it once the sink takes it. Both may run while Run
// delivers; they share the sink's client, breaker and rate limit.
package dispatch
