package relaylog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Badger settings. Every memory option is set here on purpose: Badger's
// defaults hold 0.35–0.4 GiB with nothing stored and grow past 2 GiB with
// a million events (docs LIBRARIES.md). The log needs little of the LSM:
// block values live in the value log, so the LSM holds small keys only
// (id index, block pointers, time index, high-water marks, cursors).
const (
	// memTableSize bounds one transaction (Badger allows 15 % of it, and
	// one skiplist node per entry): 16 MiB admits ~26k entries, above the
	// worst case of MaxAppendEvents ids plus three keys per batch for
	// MaxAppendBatches. One active and one flushing memtable.
	memTableSize = 16 << 20
	numMemtables = 2
	// valueThreshold: values of at least this size (every block) go to the
	// value log, written once and never compacted; the small keys stay in
	// the LSM.
	valueThreshold = 256
	// valueLogFileSize is the unit of disk reclamation: value log GC drops
	// or rewrites whole files.
	valueLogFileSize = 64 << 20
	// Level sizes: every flushed memtable is compacted into the base level
	// at once (one L0 table), so tombstones of deleted blocks meet the block
	// pointers they cover soon and Badger learns which value log bytes are
	// dead; lookups also check fewer tables.
	numLevelZeroTables      = 1
	numLevelZeroTablesStall = 10
	baseTableSize           = 4 << 20
	baseLevelSize           = 32 << 20
	// numCompactors: Badger needs 0 or at least 2; two on a 2-core box.
	numCompactors = 2
	// No compression: ids are random bytes and blocks sit in the value log,
	// which Badger does not compress; without compression Badger reads
	// tables straight from their mmap, so the block cache is off.
	blockCacheSize = 0
	// indexCacheSize 0 keeps every table's index and bloom filter in
	// memory (about 1.5 bytes per remembered id): an id lookup that misses
	// must consult the bloom filter of every table, and paging filters in
	// and out would put disk reads on the append path.
	indexCacheSize = 0
)

func badgerOptions(dir string, logger *badgerLogger, memTable int64) badger.Options {
	if memTable == 0 {
		memTable = memTableSize
	}
	return badger.DefaultOptions(dir).
		WithLogger(logger).
		WithSyncWrites(true).
		WithDetectConflicts(false). // Append is serialised by the Log
		WithNumVersionsToKeep(1).
		WithMetricsEnabled(false). // the Log reports its own Stats
		WithCompression(options.None).
		WithBlockCacheSize(blockCacheSize).
		WithIndexCacheSize(indexCacheSize).
		WithMemTableSize(memTable).
		WithNumMemtables(numMemtables).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(valueLogFileSize).
		WithNumLevelZeroTables(numLevelZeroTables).
		WithNumLevelZeroTablesStall(numLevelZeroTablesStall).
		WithBaseTableSize(baseTableSize).
		WithBaseLevelSize(baseLevelSize).
		WithNumCompactors(numCompactors).
		WithNumGoroutines(2).
		// Check every table's checksum when it is opened: a corrupt table
		// refuses to open instead of answering lookups wrongly. Blocks carry
		// their own CRC-32C, checked on every read.
		WithChecksumVerificationMode(options.OnTableRead)
}

// badgerLogger bridges Badger's logger into slog: errors and warnings
// pass, info and debug (per-compaction chatter) are dropped.
//
// It also watches for one message. With SyncWrites, Badger syncs the value
// log after a write but only logs a failure ("Error while curlf sync") and
// still reports the commit as successful (value.go, v4.9.6). Append checks
// syncFailed after every commit and refuses to acknowledge.
type badgerLogger struct {
	log        *slog.Logger
	syncFailed atomic.Bool
}

func (b *badgerLogger) Errorf(format string, args ...any) {
	if strings.Contains(format, "sync") {
		b.syncFailed.Store(true)
	}
	b.emit(slog.LevelError, format, args)
}

func (b *badgerLogger) Warningf(format string, args ...any) {
	b.emit(slog.LevelWarn, format, args)
}

func (b *badgerLogger) Infof(string, ...any)  {}
func (b *badgerLogger) Debugf(string, ...any) {}

func (b *badgerLogger) emit(level slog.Level, format string, args []any) {
	if !b.log.Enabled(context.Background(), level) {
		return
	}
	b.log.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
