package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// filledSpool makes a closed spool holding 2000 events in dir and returns
// its epoch.
func filledSpool(t *testing.T, dir string) string {
	t.Helper()
	s := openSpool(t, Options{Dir: dir})
	for next := uint64(1); next <= 2000; next += 500 {
		commit(t, s, "src", next+499, entries(opLane, "src", next, 500, 1000))
	}
	epoch := s.Epoch()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return epoch
}

func filesWithSuffix(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpenRefusesDamagedStore(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir, epoch string)
		corrupt bool // the error must be ErrCorrupt (else any error)
	}{
		{"MANIFEST deleted", func(t *testing.T, dir, _ string) {
			must(t, os.Remove(filepath.Join(dir, "MANIFEST")))
		}, true},
		{"every Badger file deleted", func(t *testing.T, dir, _ string) {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != markerName {
					must(t, os.Remove(filepath.Join(dir, e.Name())))
				}
			}
		}, true},
		{"marker deleted", func(t *testing.T, dir, _ string) {
			must(t, os.Remove(filepath.Join(dir, markerName)))
		}, true},
		{"marker from another spool", func(t *testing.T, dir, epoch string) {
			must(t, writeMarker(dir, marker{state: markerReady, epoch: strings.Repeat("ab", 8)}))
		}, true},
		{"marker garbled", func(t *testing.T, dir, _ string) {
			must(t, os.WriteFile(filepath.Join(dir, markerName), []byte("hello\n"), 0o600))
		}, true},
		{"MANIFEST garbled", func(t *testing.T, dir, _ string) {
			overwrite(t, filepath.Join(dir, "MANIFEST"), 8)
		}, false},
		{"table file deleted", func(t *testing.T, dir, _ string) {
			ssts := filesWithSuffix(t, dir, ".sst")
			if len(ssts) == 0 {
				t.Skip("no table file to delete")
			}
			must(t, os.Remove(ssts[0]))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			epoch := filledSpool(t, dir)
			tt.damage(t, dir, epoch)
			s, err := Open(Options{Dir: dir, Logger: testLogger(t)})
			if err == nil {
				n := len(readAll(t, s, opStream(1)))
				s.Close()
				t.Fatalf("Open succeeded on a damaged store (%d events readable)", n)
			}
			if tt.corrupt && !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v; want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("err = %v; want the directory named", err)
			}
			t.Logf("Open: %v", err)
		})
	}
}

// TestDamagedValueLogIsAnError flips bytes inside a value-log file: Badger
// cannot see that at Open, but Read must fail rather than return damaged or
// missing events.
func TestDamagedValueLogIsAnError(t *testing.T) {
	dir := t.TempDir()
	filledSpool(t, dir)
	vlogs := filesWithSuffix(t, dir, ".vlog")
	if len(vlogs) == 0 {
		t.Fatal("no value-log file")
	}
	fi, err := os.Stat(vlogs[0])
	must(t, err)
	f, err := os.OpenFile(vlogs[0], os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("garbage!garbage!"), fi.Size()/2)
	must(t, err)
	must(t, f.Close())

	s, err := Open(Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Logf("Open refused: %v", err)
		return
	}
	defer s.Close()
	var readErr error
	for from := uint64(1); from <= 2000 && readErr == nil; {
		var recs []Record
		recs, readErr = s.Read(opStream(1), from, 1000, 0, nil)
		if readErr == nil {
			from = recs[len(recs)-1].Seq + 1
		}
	}
	if readErr == nil {
		t.Fatal("every event read back from a damaged value log")
	}
	t.Logf("Read: %v", readErr)
}

func TestOpenFinishesInterruptedCreation(t *testing.T) {
	dir := t.TempDir()
	// A crash right after the marker was written, before Badger existed.
	m := marker{state: markerCreating, epoch: newEpoch()}
	must(t, writeMarker(dir, m))
	s := openSpool(t, Options{Dir: dir})
	if s.Epoch() != m.epoch {
		t.Errorf("epoch %s; want the marker's %s", s.Epoch(), m.epoch)
	}
	got, err := readMarker(dir)
	if err != nil || got.state != markerReady {
		t.Errorf("marker %+v, %v; want ready", got, err)
	}
}

func TestEpochIsStable(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, Options{Dir: dir})
	e := s.Epoch()
	if len(e) != 16 {
		t.Fatalf("epoch %q; want 16 hex digits", e)
	}
	s = reopen(t, s)
	if s.Epoch() != e {
		t.Errorf("epoch changed across reopen: %s -> %s", e, s.Epoch())
	}
	other := openSpool(t, Options{})
	if other.Epoch() == e {
		t.Errorf("two spools share epoch %s", e)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// overwrite replaces n bytes at the middle of a file with garbage.
func overwrite(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	for i := len(b) / 2; i < len(b)/2+n && i < len(b); i++ {
		b[i] ^= 0x5a
	}
	must(t, os.WriteFile(path, b, 0o600))
}

// TestOpenAfterCrashLeftEmptyLogFiles: a kill -9 between Badger creating a
// memtable or value-log file and sizing it leaves an empty file that Badger
// alone refuses to open.
func TestOpenAfterCrashLeftEmptyLogFiles(t *testing.T) {
	dir := t.TempDir()
	filledSpool(t, dir)
	for _, name := range []string{"00007.mem", "000009.vlog"} {
		must(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	}
	s := openSpool(t, Options{Dir: dir})
	if recs := readAll(t, s, opStream(1)); len(recs) != 2000 {
		t.Fatalf("read %d events; want 2000", len(recs))
	}
	commit(t, s, "src", 2001, entries(opLane, "src", 2001, 1, 100))
}
