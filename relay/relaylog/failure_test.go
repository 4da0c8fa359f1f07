package relaylog

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestSyncFailureFailsTheLog: Badger logs a value log sync failure instead
// of failing the commit; the Log must then refuse to acknowledge, and
// reopening re-derives the state from what reached the store.
func TestSyncFailureFailsTheLog(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Logger: discardLogger, RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, 3, 3)
	l.blog.Errorf("Error while curlf sync: %v\n", errors.New("input/output error")) // what Badger calls
	b := batch(t, "MEM1", "e1", op, 1, 4, "fill-4")
	if _, err := l.Append([]*Incoming{b}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after a sync failure: %v; want ErrFailed", err)
	}
	if _, err := l.Append([]*Incoming{batch(t, "MEM1", "e1", op, 1, 5, "fill-5")}); !errors.Is(err, ErrFailed) {
		t.Fatalf("next Append: %v; want ErrFailed", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, Options{Dir: dir})
	// The refused call did reach the store here (the failure was only
	// reported): the agent's re-send is a duplicate, not a second copy.
	res, err := l.Append([]*Incoming{b, batch(t, "MEM1", "e1", op, 1, 5, "fill-5")})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, 0, res, []Result{{Outcome: Duplicate, SkippedSeq: 1}, {Outcome: Stored, Stored: 1, FirstSeq: 5}})
}

func TestBadgerLoggerBridge(t *testing.T) {
	var buf bytes.Buffer
	bl := &badgerLogger{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	bl.Infof("compaction %d", 1)
	bl.Debugf("flush %d", 2)
	bl.Warningf("slow %s\n", "disk")
	bl.Errorf("table %d: checksum", 3)
	got := buf.String()
	for _, want := range []string{`level=WARN msg="slow disk"`, `level=ERROR msg="table 3: checksum"`} {
		if !strings.Contains(got, want) {
			t.Errorf("bridge wrote %q; want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "compaction") || strings.Contains(got, "flush") {
		t.Errorf("info and debug lines passed: %q", got)
	}
	if bl.syncFailed.Load() {
		t.Error("an error without sync marked a sync failure")
	}
	bl.Errorf("Error while curlf sync: %v\n", "EIO")
	if !bl.syncFailed.Load() {
		t.Error("a sync error was not noticed")
	}
}

// TestIDRetentionIntegration: ids are forgotten after IDRetention (Badger
// TTL, one-second resolution), then a rewound source's event is stored
// again.
func TestIDRetentionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a TTL")
	}
	l := openTest(t, Options{IDRetention: time.Second})
	if _, err := l.Append([]*Incoming{batch(t, "MEM1", "e1", op, 1, 1, "a")}); err != nil {
		t.Fatal(err)
	}
	res, err := l.Append([]*Incoming{batch(t, "MEM1", "e2", op, 1, 1, "a")})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, 0, res, []Result{{Outcome: Stored, SkippedID: 1}})
	time.Sleep(2100 * time.Millisecond)
	res, err = l.Append([]*Incoming{batch(t, "MEM1", "e3", op, 1, 1, "a")})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, 1, res, []Result{{Outcome: Stored, Stored: 1, FirstSeq: 2}})
}
