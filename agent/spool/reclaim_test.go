package spool

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestIntegrationDiskReturnsAfterDrain fills the spool with 150 MiB, drains
// it, and checks the directory shrinks to the floor: the value-log file being
// written (at most 16 MiB) plus a few small files.
func TestIntegrationDiskReturnsAfterDrain(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	s := openSpool(t, Options{Dir: dir, RefreshInterval: 50 * time.Millisecond})
	const events = 150_000
	for next := uint64(1); next <= events; next += 250 {
		commit(t, s, "src", next+249, entries(opLane, "src", next, 250, 1024))
	}
	full := dirSize(t, dir)
	if full < events*1024 {
		t.Fatalf("%d events of 1 KiB take %d bytes on disk?", events, full)
	}
	if got := drain(t, s); got != events {
		t.Fatalf("drained %d events; want %d", got, events)
	}
	const floor = 24 << 20
	waitFor(t, 30*time.Second, "the directory to shrink", func() bool { return dirSize(t, dir) < floor })
	// Stats reports the measurement the maintenance goroutine takes after
	// its reclaim pass.
	waitFor(t, 5*time.Second, "Stats to see it", func() bool { return s.Stats().DiskBytes < floor })
	t.Logf("full %d MiB, drained %d MiB, %d reclaim passes", full>>20, dirSize(t, dir)>>20, s.Stats().Reclaims)

	// The space stays reclaimed across a restart, and the spool works.
	s = reopen(t, s)
	if got := dirSize(t, dir); got >= floor {
		t.Errorf("after reopen the directory holds %d bytes; want < %d", got, floor)
	}
	commit(t, s, "src", events+1, entries(opLane, "src", events+1, 1, 1024))
	if recs := readAll(t, s, opStream(1)); len(recs) != 1 || recs[0].Seq != events+1 {
		t.Errorf("after reopen read %v; want [%d]", seqs(recs), events+1)
	}
	if t.Failed() {
		listDir(t, dir)
	}
}

func listDir(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var b strings.Builder
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "\n  %-20s %10d allocated %10d apparent", e.Name(), allocatedBytes(fi), fi.Size())
		}
	}
	t.Log("directory:" + b.String())
}
