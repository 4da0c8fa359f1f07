package spool

import (
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mountTmpfs mounts a tmpfs of size bytes on a new temporary directory and
// unmounts it when the test ends (after the spool opened later is closed).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the small file system test mounts a tmpfs and needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(size, 10)); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): the small file system test needs CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestIntegrationSmallFilesystem fills a 96 MiB file system: intake must
// pause on the free-space mark before Badger can hit a full disk (where it
// dies with SIGBUS), keep every committed event, and resume once the uplink
// drained and the space came back.
func TestIntegrationSmallFilesystem(t *testing.T) {
	skipShort(t)
	const fsSize, minFree = 96 << 20, 32 << 20
	dir := mountTmpfs(t, fsSize)
	s := openSpool(t, Options{Dir: dir, MinFreeBytes: minFree, RefreshInterval: 20 * time.Millisecond})

	var next uint64 = 1
	var err error
	for next < 200_000 {
		if err = commitWithin(s, 500*time.Millisecond, "src", next+255, entries(opLane, "src", next, 256, 1024)); err != nil {
			break
		}
		next += 256
	}
	if !isPaused(err, PausedDiskLow) {
		t.Fatalf("after %d events Commit returned %v; want PausedError(disk_low)", next-1, err)
	}
	st := s.Stats()
	t.Logf("paused after %d events: free %d MiB, spool %d MiB", next-1, st.FreeBytes>>20, st.DiskBytes>>20)
	if st.Paused != PausedDiskLow || st.FreeBytes >= minFree*5/4 {
		t.Fatalf("Stats: paused %q free %d; want disk_low under %d", st.Paused, st.FreeBytes, minFree*5/4)
	}
	committed := next - 1

	// Everything committed is there, in order, after a restart too.
	s = reopen(t, s)
	recs := readAll(t, s, opStream(1))
	if uint64(len(recs)) != committed {
		t.Fatalf("after reopen %d events stored; want %d", len(recs), committed)
	}
	for k, r := range recs {
		if _, i, _ := parseEvent(r.Event); i != uint64(k)+1 || r.Seq != uint64(k)+1 {
			t.Fatalf("record %d: seq %d event %d", k, r.Seq, i)
		}
	}
	if st := s.Stats(); st.FreeBytes < minFree*5/4 && st.Paused != PausedDiskLow {
		t.Errorf("after reopen with %d bytes free intake is %q; want disk_low", st.FreeBytes, st.Paused)
	}

	// Drain: reclaim gives the space back and intake resumes.
	if got := drain(t, s); uint64(got) != committed {
		t.Fatalf("drained %d; want %d", got, committed)
	}
	waitFor(t, 20*time.Second, "intake to resume", func() bool { return s.Stats().Paused == PausedNone })
	if err := commitWithin(s, time.Second, "src", next+255, entries(opLane, "src", next, 256, 1024)); err != nil {
		t.Fatalf("Commit after the drain: %v", err)
	}
	t.Logf("resumed: free %d MiB", s.Stats().FreeBytes>>20)
}
