package spool

import (
	"errors"
	"io/fs"
	"os"
)

// usage is what the spool knows of its disk: the last measurement, plus the
// bytes committed since, so a burst between two measurements still counts.
// Guarded by Spool.mu.
type usage struct {
	disk      int64 // allocated bytes of the files in Dir, when measured
	free      int64 // free bytes of the file system, when measured
	freeKnown bool  // false when the platform or statfs cannot tell
	written   int64 // bytes committed since the measurement
}

// diskEstimate is the directory size now, counting commits since the
// measurement.
func (u *usage) diskEstimate() int64 { return u.disk + u.written }

// freeEstimate is the free space now, counting commits since the
// measurement.
func (u *usage) freeEstimate() int64 { return u.free - u.written }

// dirBytes sums the allocated size of the files in dir. Badger keeps all its
// files in one flat directory: a few dozen entries, so this is cheap enough
// to run every RefreshInterval, but not on every commit.
func dirBytes(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted by compaction or GC since ReadDir
		}
		if err != nil {
			return 0, err
		}
		total += allocatedBytes(fi)
	}
	return total, nil
}

// measure refreshes the usage from the file system.
func (s *Spool) measure() {
	s.mu.Lock()
	before := s.usage.written
	s.mu.Unlock()

	disk, derr := dirBytes(s.opts.Dir)
	free, ferr := freeBytes(s.opts.Dir)

	s.mu.Lock()
	defer s.mu.Unlock()
	// Bytes written while measuring may or may not be in the figures; keep
	// counting them, erring towards a fuller disk.
	s.usage.written -= before
	if derr == nil {
		s.usage.disk = disk
	}
	if ferr == nil {
		s.usage.free, s.usage.freeKnown = free, true
	} else {
		s.usage.freeKnown = false
	}
	err := errors.Join(derr, ferr)
	if err != nil && !s.measureFailing {
		s.log.Warn("spool: cannot measure disk usage; the size cap and the free-space mark may not hold", "err", err)
	}
	s.measureFailing = err != nil
}
