// Package relaylog is the relay's durable log: every event the relay has
// acknowledged to an agent, in one global order, on Badger
// (github.com/dgraph-io/badger/v4).
//
// The ingest endpoint group-commits the batches of concurrent connections
// into one [Log.Append] call, which stores them in one Badger transaction
// and returns after the fsync; only then are PUBACKs released
// (ARCHITECTURE.md, guarantee 2). Sink dispatchers read the log with
// [Log.Read] from their own durable cursors ([Log.SetCursor]), woken by
// [Log.Notify] (guarantee 5).
//
// # Exactly once, in order (guarantee 4)
//
// Each agent stream (site, epoch, lane, stream) has a high-water mark: the
// highest contiguous sequence stored. A batch at or below it is a
// duplicate, a batch beyond it is a gap (refused, with the sequence the
// agent must resume from) unless the agent announces that its drop policy
// removed the missing events, and an overlapping batch stores its new part.
// High-water marks are kept in memory and written in the same transaction
// as the events, so they can never disagree with what is stored.
//
// A source re-read after a rewind yields events with ids already stored,
// possibly under a new epoch and new sequence numbers; the id index catches
// them. It maps each stored event id to its global sequence with a Badger
// TTL of Options.IDRetention (30 days by default: longer than any outage a
// spool absorbs), and costs one small key and one lookup per event.
//
// # Blocks
//
// The events a batch stores go into one Badger value, a block (block.go):
// the events length-prefixed, with the site, received time and stream
// identity, and a CRC-32C. Per-key storage of 1 KB events cannot reach the
// ingest target with an fsync per commit (LIBRARIES.md); one value per batch
// divides Badger's per-key cost by the batch size. Stored events get
// consecutive global sequence numbers from 1, gapless across calls and
// restarts: the next one is derived from the last block key at open, never
// from a Badger sequence (which leases ranges).
//
// # Key layout
//
// One-byte prefixes, big-endian numbers (keys.go):
//
//	b | last seq (8)                          block of events first..last (count inside)
//	t | index time ns (8) | last seq (8)      -> first seq: time index, for SeqAtTime and retention
//	h | len | site | len | epoch | lane (4) | stream (4)   -> high-water mark (8)
//	i | id as 16 bytes (canonical UUID form)  -> global seq (8), TTL IDRetention
//	j | id bytes (any other form)             -> global seq (8), TTL IDRetention
//	c | consumer name                         -> cursor: next seq to deliver (8)
//	k | len | consumer | mark name            -> mark value, TTL MarkRetention
//	m format                                  -> format version (1)
//	m floor                                   -> oldest retained seq (8) | index time of the last deleted block (8)
//
// A block is keyed by its last sequence, so the first block key at or after
// a sequence is the block holding it: Read seeks forward only. The time
// index uses received times made non-decreasing in sequence order, so it is
// ordered both ways and retention and SeqAtTime can walk it from the floor.
//
// # Consumer marks
//
// A consumer may keep small records beside its cursor ([Mark]): a sink
// dispatcher records there, per idempotency key, the event that delivered it
// (relay/dispatch). [Log.SetCursorMarks] writes marks and then the cursor, so
// the cursor never passes an event whose mark is not durable. Marks expire
// Options.MarkRetention (30 days by default) after they are written.
//
// # Retention and disk space
//
// A background pass ([Log.Sweep], every Options.RetentionInterval) deletes,
// oldest first, blocks that every registered consumer has delivered and
// that were received more than Options.Retention ago. It never deletes what
// a consumer has not delivered, and with no consumer registered it deletes
// nothing (see Sweep for why). Deletions start from the persisted floor,
// never from the first key, so they never walk over tombstones. The id
// index outlives deleted events (its own TTL), and the retention floor and
// high-water marks keep sequences and deduplication right when every
// event has been deleted. Disk space comes back through Badger: compaction
// merges the tombstones with the block pointers, value log GC drops or
// rewrites value log files that are at least half dead (retention.go).
//
// # Durability and corruption
//
// Badger runs with SyncWrites; Append returns after the commit. Badger
// reports a value log sync failure only in its log, so the logger bridge
// watches for it and the Log refuses further appends until reopened
// (ErrFailed). A store that is not a relay log, a newer format, a corrupt
// table or manifest, a Badger write-ahead file in which acknowledged
// commits follow an unreadable entry (Badger would truncate there, silently
// dropping them: walcheck.go), or a newest block that is missing or fails
// its checksum (Badger answers a lost value with an empty one) refuses to
// open with an error. An older block that fails its checksum fails the
// Read that reaches it with ErrCorrupt.
//
// # Memory
//
// Every Badger memory option is set on purpose (badger.go): small
// memtables, no block cache (uncompressed tables are read from their mmap),
// every table index and bloom filter kept in memory, two compactors.
//
// Files: options.go (Options, limits), keys.go (key layout), block.go
// (block codec), log.go (Open, Close, state loaded at open), append.go
// (Append, HighWater), read.go (Read, Notify, SeqAtTime), cursor.go
// (consumers), retention.go (Sweep, reclaim), stats.go, badger.go (Badger
// options, logger bridge), walcheck.go (pre-open check of Badger's logs).
package relaylog
