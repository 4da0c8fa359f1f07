// Package spool is the agent's durable store: the canonical events waiting
// for the relay, and every connector's source cursor, in one Badger database
// (ARCHITECTURE.md, guarantees 1, 4, 7 and 8).
//
// # Use
//
// The connector pipeline calls [Spool.Commit] with a batch of events and
// the source cursor after it; Commit returns once both are fsynced in one
// transaction. The uplink calls [Spool.Streams] to choose what to send,
// [Spool.Read] to fetch events, [Spool.Ack] when the relay acknowledged them
// (after its own fsync), [Spool.SetLinkUp] when it connects or disconnects,
// and waits on [Spool.Notify] when idle. On start the agent hands each
// connector [Spool.Cursor]. Every method is safe for concurrent use.
//
// Connector supervisors call [Spool.CommitBatch] instead: the batch's
// events, its cursor and its rejects (quarantine records) in one
// transaction. The quarantine (quarantine.go) is read with
// [Spool.ListQuarantine] and [Spool.Quarantined]; a successful retry calls
// [Spool.ResolveQuarantine] (its events and the record's removal in one
// transaction), a failed one [Spool.FailQuarantineRetry].
//
// # Blocks and keys
//
// Storing one Badger key per event costs about 35 µs of CPU per event
// (LIBRARIES.md). The spool stores instead, for each lane, the events one
// transaction appends as one value, a block (block.go): a version byte, the
// append time, the event count and the length-prefixed events, at most
// 256 KiB unless one event is larger. Keys (keys.go), big-endian so that
// byte order is numeric order:
//
//	'b' lane stream last   block whose last event has sequence `last`
//	's' lane stream        stream record: head, purged, dropped
//	'c' source             cursor
//	'm' "epoch"/"format"   metadata
//	'q' chunk              quarantine records of one commit ('p' patches,
//	                       'n' counts; see quarantine_store.go)
//
// Keying a block by its last sequence makes Seek(from) land on the block
// holding `from`. Every walk Seeks from the head (or the purged mark), never
// from the start of a stream, where deleted blocks leave tombstones.
//
// # Sequences and streams
//
// The relay deduplicates and orders by (epoch, lane, stream, sequence)
// (internal/wire). The epoch is 8 random bytes made with the spool. Each
// stream numbers its events 1, 2, 3… without gaps: the next sequence is
// derived at Open from the last block key (never from db.GetSequence, which
// leases ranges and leaves gaps after a crash), or from the head when every
// block was acknowledged. The head, the first unacknowledged sequence, is
// persisted by Ack in the same transaction as the first block deletions.
//
// A lane starts with stream 1, its live stream. During an outage events pile
// up there. When the uplink reports the link up and the live stream holds
// more than RotateAfter events, the next commit of the lane opens stream
// n+1 as the live stream, so live events do not wait behind the backlog,
// which the uplink drains in its own order. A stream opened while the link
// is up is not retired again before the next reconnection (otherwise live
// traffic that outruns the link would split into ever more streams). A
// backlog stream disappears once fully acknowledged or dropped; stream
// numbers are never reused.
//
// # Group commit
//
// Badger fsyncs once per transaction and does not group concurrent ones.
// One goroutine, the committer (commit.go), takes every Commit waiting,
// builds the blocks of all of them and writes one transaction: one fsync for
// many callers. Cursor and events of one Commit are always in the same
// transaction; should Badger find a group too big, it is split between
// commits, never inside one.
//
// # Caps and intake
//
// Intake (Commit) pauses, per Stats.Paused, when:
//
//   - free space on the file system falls under MinFreeBytes (resumes at
//     1.25 times it): Badger dies with SIGBUS on a full disk, so the spool
//     stops writing while its memtables, compactions and value-log GC still
//     have room;
//   - the real size of the files in Dir (allocated blocks) reaches MaxBytes
//     (resumes under 95%), unless a DropOldest lane can make room;
//   - a Backpressure lane holds an event older than MaxAge.
//
// Sizes are measured every RefreshInterval and estimated in between by
// adding what was committed. A DropOldest lane never pauses intake: the
// maintenance goroutine deletes its oldest blocks (older than MaxAge, or
// enough to bring the directory to 90% of MaxBytes), counts and logs every
// drop and records it as the stream's DroppedThrough.
//
// # Giving space back
//
// Deleted blocks free disk space only after Badger flushes its memtable,
// compacts the tombstones away and garbage-collects its value log
// (reclaim.go). The maintenance goroutine does that after ReclaimAfter bytes
// were acknowledged or dropped, once the spool is drained, and while intake
// is paused on space. Badger is configured small (badger.go): 8 MiB
// memtables, two level-0 tables, an 8 MiB base level, 16 MiB value-log
// files, no block cache. Blocks of 1 KiB and more live in the value log, so
// the LSM tree holds little more than their keys.
//
// # Crashes and damage
//
// Every transaction is fsynced (SyncWrites), so kill -9 or a power cut
// loses nothing Commit returned for. A marker file (marker.go) records the
// epoch and that the database was created, because Badger given a directory
// without its MANIFEST starts empty and deletes the tables it does not
// know; Open refuses such a directory (ErrCorrupt) rather than start
// empty. Damaged Badger files make Open or Read fail; an event is never
// returned damaged or skipped.
//
// # Goroutines
//
// The Spool owns two goroutines, the committer and the maintenance
// goroutine (maintain.go); Close stops both, waits for them and for the
// calls in progress, then closes Badger.
package spool
