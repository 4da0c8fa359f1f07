package spool

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Badger sizes. Each is chosen, not inherited: Badger's defaults hold about
// 2 GiB with a 1 GB backlog (LIBRARIES.md). Blocks of events are values of a
// few hundred KiB that live in the value log; the LSM tree holds little more
// than their keys, so it stays small and cheap to flatten.
const (
	// Two 8 MiB memtables: a transaction may be 15% of one (1.2 MiB of
	// LSM-resident data), which our blocks never approach because they go to
	// the value log and count as 20-byte pointers.
	badgerMemTableSize = 8 << 20
	badgerNumMemtables = 2
	// Small L0 and base level so acknowledged data leaves L0 quickly and a
	// Flatten has little to rewrite (LIBRARIES.md: 128 MB -> 22 MB).
	badgerNumLevelZeroTables      = 2
	badgerNumLevelZeroTablesStall = 4
	badgerBaseTableSize           = 2 << 20
	badgerBaseLevelSize           = 8 << 20
	// Values of 1 KiB and more (every block but a lone small event) go to
	// the value log: written once, never compacted, reclaimed by value-log
	// GC once acknowledged.
	badgerValueThreshold = 1 << 10
	// 16 MiB value-log files: GC frees space file by file, and the file being
	// written (never collected) bounds what a drained spool keeps.
	badgerValueLogFileSize = 16 << 20
	// No block cache: tables are not compressed, so Badger reads them from
	// the memory map; the page cache does the caching and the kernel can
	// take it back. The index cache bounds the table indexes and bloom
	// filters kept in memory.
	badgerBlockCacheSize = 0
	badgerIndexCacheSize = 8 << 20
	// Two compactors is Badger's minimum (one is refused).
	badgerNumCompactors = 2
)

// badgerOptions returns the options the spool opens Badger with.
func badgerOptions(dir string, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithSyncWrites(true).       // Commit returns once fsynced
		WithDetectConflicts(false). // one writer per key; the spool orders writes itself
		WithNumVersionsToKeep(1).
		WithCompression(options.None).
		WithMetricsEnabled(false).
		WithNumGoroutines(1).
		WithMemTableSize(badgerMemTableSize).
		WithNumMemtables(badgerNumMemtables).
		WithNumLevelZeroTables(badgerNumLevelZeroTables).
		WithNumLevelZeroTablesStall(badgerNumLevelZeroTablesStall).
		WithBaseTableSize(badgerBaseTableSize).
		WithBaseLevelSize(badgerBaseLevelSize).
		WithValueThreshold(badgerValueThreshold).
		WithValueLogFileSize(badgerValueLogFileSize).
		WithBlockCacheSize(badgerBlockCacheSize).
		WithIndexCacheSize(badgerIndexCacheSize).
		WithNumCompactors(badgerNumCompactors).
		WithCompactL0OnClose(false). // keep Close fast; the next Open replays one small memtable
		WithVerifyValueChecksum(true).
		WithChecksumVerificationMode(options.OnBlockRead)
}

// badgerLogger passes Badger's warnings and errors to slog and drops its
// info and debug chatter.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(format string, args ...any) {
	l.log.LogAttrs(context.Background(), slog.LevelError, "badger: "+trimLine(format, args))
}

func (l badgerLogger) Warningf(format string, args ...any) {
	l.log.LogAttrs(context.Background(), slog.LevelWarn, "badger: "+trimLine(format, args))
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

func trimLine(format string, args []any) string {
	return strings.TrimRight(fmt.Sprintf(format, args...), "\n")
}

// removeEmptyLogs deletes empty memtable (.mem) and value-log (.vlog)
// files before Badger opens the directory. Badger creates such a file, then
// sizes it; a crash in between leaves a zero-length file that Badger then
// refuses to open ("Create a new file"), so the spool would stay down after
// a kill -9. An empty file holds no data.
func removeEmptyLogs(dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".mem") && !strings.HasSuffix(name, ".vlog") {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return err
		}
		log.Warn("spool: removed an empty Badger log file left by a crash", "file", name)
	}
	return nil
}
