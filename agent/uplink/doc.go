// Package uplink forwards the agent's spool to the relay: MQTT v5 over QUIC
// (TLS/TCP fallback), QoS 1, one PUBLISH per batch of events, spool entries
// deleted only when the relay acknowledged them after its fsync
// (ARCHITECTURE.md, guarantees 2, 4 and 8; "Wire protocol").
//
// # Connection management
//
// autopaho keeps one session up. transport.attempt dials for it: MQTT over
// QUIC (ALPN "mqtt", internal/mqttquic) first, MQTT over TLS/TCP when QUIC
// fails (or, three times in a row, dials but carries no session); every
// dial is bounded by Config.DialTimeout, because autopaho hands
// AttemptConnection its outer context and ConnectTimeout does not bound the
// dial. Once on TCP the uplink stays there (a QUIC dial through a firewall
// that drops UDP costs a whole DialTimeout) and probes QUIC every
// QUICRetry; when a probe succeeds it lets the batches in flight drain
// (bounded), closes the TCP session and reconnects over QUIC. Reconnects
// back off with jitter, exponentially (backoff.go, the package's one retry
// policy; never autopaho's constant 10 s), also after connections that die
// young. Every session is CleanStart with no expiry, ClientID = site; the
// MQTT session is not a store: after every reconnect each stream is sent
// again from its first unacknowledged event, and the spool learns whether
// the link is up (Spool.SetLinkUp).
//
// # Window and per-publish acks
//
// paho's AsyncSend reports no outcome, and blocking publishes from many
// goroutines would reach the wire in any order, which a relay that refuses
// gaps punishes with go-back-N. The outbox (outbox.go, session.go) is
// instead both autopaho's publish queue and paho's session state:
// autopaho's single queue goroutine writes the PUBLISHes in the order the
// scheduler pushed them, and every PUBACK reaches the outbox
// (SessionManager.PacketReceived) with its reason code, reason string and
// the relay's dray-expected property, which it reports per batch. PUBACKs
// of QoS 1 come in PUBLISH order (MQTT 4.6), so a batch still unanswered
// when a later one is acknowledged never reached the relay: it is reported
// lost and re-sent. The session keeps no copy of a payload.
//
// The window is the relay's Receive Maximum from CONNACK (never more) and
// Config.MaxInFlightBytes of event bytes; at most maxQueued built batches
// wait for the sender. A stalled relay therefore holds the uplink's memory
// to the window; the rest waits in the spool, on disk.
//
// # Batching
//
// A batch is consecutive events of one stream (wire.Header: spool epoch,
// lane, stream, first, last; body of wire.AppendRecord records, sealed by
// the codec, which compresses above its threshold), published QoS 1 to
// wire.EventsTopic with the header in user properties. There is no linger:
// a batch is built as soon as the window and the sender have room, from
// whatever the stream holds, up to MaxBatchEvents and MaxBatchBytes. A
// lone event on an idle link leaves at once; while the window or the
// sender is full, events accumulate in the spool and the next batch takes
// them all. So batches grow exactly while acks are outstanding.
//
// # Acks and go-back-N
//
// Each stream acknowledges the spool contiguously: through the highest
// sequence whose every earlier batch got PUBACK 0x00 (stream.ackedBatch),
// from a separate goroutine, since each Spool.Ack is an fsynced
// transaction (acker.go; rounds at most every 50 ms). On a refusal
// (acks.go):
//
//   - 0x83 with dray-expected: resend the stream from max(expected, first
//     unacknowledged); the outcomes of its batches in flight from there
//     on are ignored (they keep their window slot until answered);
//   - 0x97 (rate, quota): every stream waits a jittered, growing backoff,
//     this one re-sends from the refused batch with smaller batches until
//     sends succeed again;
//   - anything else (0x99, 0x87, 0x90, 0x80…): logged as an error with
//     the relay's reason string; the stream backs off exponentially and
//     re-sends from the refused batch.
//
// A batch is never dropped and never skipped: events after a batch the
// relay keeps refusing wait behind it.
//
// A stream whose spool dropped events by policy (DroppedThrough) announces
// the gap in the header of the first batch after it, so the relay accepts
// it.
//
// # Scheduling
//
// Streams are served in priority order (stream.less): the operational lane
// before bulk; within a lane the live stream first, then backlog streams,
// oldest first. Each free slot goes to the first stream with events to
// send, so whenever the live stream has events it gets the next slot, and
// its batches go before queued backlog batches in the outbox. Backlog
// streams are paced: they may use all but a quarter of the window's slots
// and of MaxInFlightBytes, and send only whole batches, so a live batch
// always finds a slot at once and waits at the relay behind a bounded
// amount of backlog.
//
// # Goroutines
//
// Run starts autopaho (its connection manager and queue goroutine, and the
// paho client's), the QUIC prober and the acker, and runs the scheduler
// itself: one goroutine owns all send state (scheduler.go); the others
// talk to it through the outbox's event list and wake channel. Run returns
// after all of them have stopped and the QUIC connections have closed.
package uplink
