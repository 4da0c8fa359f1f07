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
// # One fact, once
//
// An event's idempotencykey names the business fact it reports
// (docs CANONICAL.md; canonical.FactKey): the same departure read from the
// WMS database and from an X12 214, or a row re-emitted under a new source
// version, are events with different ids and one key, and possibly
// different bodies. Sinks take the key as Idempotency-Key and refuse it
// with another body (422), so sending both would dead-letter the second
// (a false dead letter) or, at a sink that does not check, apply the fact
// twice. A dispatcher therefore keeps a durable record, per sink, of the
// keys it delivered and the event that delivered each (with a digest of
// its request), and does not send a later event whose key another event
// delivered. Such an event is finished, not dead-lettered, and counted in
// Stats: FactDuplicates when its request is the one delivered, and
// FactConflicts when it differs (a source reporting the fact differently:
// logged as a warning with both event ids, LastFactSkip in the status).
//
// A key identifies one fact, which happens once: statuses are ranked and
// each is reached once, documents are keyed by what was done with them,
// and events that do have versions (order changes) are keyed by their own
// id. A later event with a delivered key is thus another report of the
// same fact, never a newer state, and is not sent. The documented way to
// change a fact already delivered is an event.retracted of the event that
// delivered it, then the corrective events: once a retraction of that
// event was delivered to the sink, a later event with its key is sent (the
// sink decides whether it takes the key again; a refusal dead-letters it
// as usual). An event that was dead-lettered or unrouted did not deliver
// its key: a later report of the fact is sent, and redriving the dead
// letter after that removes it without sending (outcome fact_delivered).
//
// The record is relay log consumer marks of the sink (relaylog.Mark), kept
// relaylog.Options.MarkRetention after they are written (store.
// fact_retention, 30 days by default): a report of a fact arriving later
// than that is sent again. A worker records a key when the sink takes the
// event (2xx or 409), before the event counts as finished; the pending
// records are written in front of the cursor in its write
// (relaylog.SetCursorMarks), so the cursor never passes a delivered event
// whose record is not durable. After kill -9, events between the durable
// cursor and the crash are read again: one whose key has no record was
// delivered at most by itself, and is sent again with the same request,
// which the sink's idempotency answers as a replay; one whose key records
// its own id is finished without a request; one whose key records another
// event is skipped. Events of one key are looked at in log order: an event
// waits for the earlier unfinished event of its key (on any worker) before
// it is sent, so the record is final when it is read. An in-memory Bloom
// filter of the delivered keys (about 5 MiB per sink, loaded from the
// record when Run starts, until then every key is looked up) spares the
// relay log lookup for the events whose key was never delivered: nearly all
// of them.
//
// Replay sends the event that delivered a key again (the sink replays its
// answer) and skips the others as above. A replay or redrive running
// concurrently with delivery of another event of the same key is not
// ordered with it.
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
