package refsink

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Files in the data directory.
const (
	ledgerFileName = "ledger.jsonl"
	lockFileName   = "LOCK"
)

// errClosed is returned for appends after Close.
var errClosed = errors.New("ledger closed")

// commitGroup is the set of records written and fsynced together; done is
// closed when they are durable (err nil) or the write failed.
type commitGroup struct {
	done chan struct{}
	err  error
}

func newGroup() *commitGroup { return &commitGroup{done: make(chan struct{})} }

// ledgerFile is the append-only JSON-lines file with group commit: appends
// accumulate in a buffer while the flusher goroutine writes and fsyncs the
// previous group, so concurrent requests share an fsync.
type ledgerFile struct {
	w, r *os.File
	lock *os.File
	wake chan struct{} // capacity 1: "buf is not empty"
	stop chan struct{}
	done chan struct{} // closed when the flusher has exited

	mu      sync.Mutex
	buf     []byte       // guarded by mu: encoded records not yet handed to the flusher
	starts  []int        // guarded by mu: offset in buf of each record
	group   *commitGroup // guarded by mu: the group buf belongs to
	offsets []int64      // guarded by mu: file offset of record seq i+1 (committed only)
	size    int64        // guarded by mu: committed file size
	err     error        // guarded by mu: sticky write or sync error
	closed  bool         // guarded by mu

	arriving   atomic.Int64  // requests between arrive and leave
	commitWait time.Duration // see arrive
}

// openLedger opens (or creates) the ledger in dir, replays every committed
// record through restore in order, truncates a torn last line, and starts
// the flusher. A corrupt line that is not the torn tail is an error: the
// ledger is the evidence, and it is never repaired silently.
func openLedger(dir string, restore func(rec *Record) error) (l *ledgerFile, truncated int64, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, 0, fmt.Errorf("open ledger: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // in the configured data directory
	if err != nil {
		return nil, 0, fmt.Errorf("open ledger: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, 0, fmt.Errorf("open ledger: %s is in use by another process: %w", dir, err)
	}
	path := filepath.Join(dir, ledgerFileName)
	w, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // in the configured data directory
	if err != nil {
		lock.Close()
		return nil, 0, fmt.Errorf("open ledger: %w", err)
	}
	fail := func(err error) (*ledgerFile, int64, error) {
		w.Close()
		lock.Close()
		return nil, 0, err
	}
	if err := syncDir(dir); err != nil {
		return fail(fmt.Errorf("open ledger: %w", err))
	}
	offsets, size, err := replayLedger(w, path, restore)
	if err != nil {
		return fail(err)
	}
	st, err := w.Stat()
	if err != nil {
		return fail(fmt.Errorf("open ledger: %w", err))
	}
	if st.Size() > size {
		truncated = st.Size() - size
		if err := w.Truncate(size); err != nil {
			return fail(fmt.Errorf("open ledger: truncate torn tail: %w", err))
		}
		if err := w.Sync(); err != nil {
			return fail(fmt.Errorf("open ledger: %w", err))
		}
	}
	if _, err := w.Seek(size, io.SeekStart); err != nil {
		return fail(fmt.Errorf("open ledger: %w", err))
	}
	r, err := os.Open(path) //nolint:gosec // in the configured data directory
	if err != nil {
		return fail(fmt.Errorf("open ledger: %w", err))
	}
	l = &ledgerFile{
		w: w, r: r, lock: lock,
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		group:      newGroup(),
		offsets:    offsets,
		size:       size,
		commitWait: defaultCommitWait,
	}
	go l.flusher()
	return l, truncated, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // the configured data directory
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// replayLedger reads every complete line; it returns the offsets and the
// size of the valid prefix.
func replayLedger(f *os.File, path string, restore func(*Record) error) ([]int64, int64, error) {
	br := bufio.NewReaderSize(f, 1<<20)
	var offsets []int64
	var off int64
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A last line without its newline was never acknowledged (the
			// newline is written with it, then fsynced, then answered).
			return offsets, off, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read ledger %s: %w", path, err)
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, 0, fmt.Errorf("ledger %s is corrupt at byte %d (record %d): %w", path, off, len(offsets)+1, err)
		}
		if rec.Seq != uint64(len(offsets))+1 {
			return nil, 0, fmt.Errorf("ledger %s is corrupt at byte %d: seq %d where %d was expected", path, off, rec.Seq, len(offsets)+1)
		}
		if err := restore(&rec); err != nil {
			return nil, 0, fmt.Errorf("ledger %s record %d: %w", path, rec.Seq, err)
		}
		offsets = append(offsets, off)
		off += int64(len(line))
	}
}

// append queues one encoded record (ending in '\n'); the caller appends in
// seq order. The returned group is done when the record is durable.
func (l *ledgerFile) append(line []byte) (*commitGroup, error) {
	l.mu.Lock()
	if l.err != nil || l.closed {
		err := l.err
		if err == nil {
			err = errClosed
		}
		l.mu.Unlock()
		return nil, err
	}
	l.starts = append(l.starts, len(l.buf))
	l.buf = append(l.buf, line...)
	g := l.group
	l.mu.Unlock()
	l.poke()
	return g, nil
}

// defaultCommitWait bounds how long the flusher holds a commit back for
// requests that are about to append (see arrive): about one fsync here.
const defaultCommitWait = 500 * time.Microsecond

// arrive notes a request that is about to append records. Until leave is
// called (after its last append, or when it will append nothing; calls
// after the first do nothing) the flusher holds the next write and fsync
// back, at most l.commitWait, so that concurrent requests share one fsync
// instead of each paying for its own. A lone request is not delayed.
func (l *ledgerFile) arrive() (leave func()) {
	l.arriving.Add(1)
	left := false
	return func() {
		if !left {
			left = true
			l.arriving.Add(-1)
			l.poke()
		}
	}
}

// poke wakes the flusher.
func (l *ledgerFile) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// awaitArrivals waits until no request is about to append, at most
// l.commitWait.
func (l *ledgerFile) awaitArrivals() {
	if l.arriving.Load() <= 0 {
		return
	}
	t := time.NewTimer(l.commitWait)
	defer t.Stop()
	for l.arriving.Load() > 0 {
		select {
		case <-l.wake: // an append or a leave
		case <-t.C:
			return
		case <-l.stop:
			return
		}
	}
}

// failed returns the sticky error, if any.
func (l *ledgerFile) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *ledgerFile) flusher() {
	defer close(l.done)
	var spare []byte
	var spareStarts []int
	for {
		stopping := false
		select {
		case <-l.wake:
			l.awaitArrivals()
		case <-l.stop:
			stopping = true
		}
		l.mu.Lock()
		if len(l.buf) == 0 {
			l.mu.Unlock()
			if stopping {
				return
			}
			continue
		}
		chunk, starts, g, base := l.buf, l.starts, l.group, l.size
		l.buf, l.starts, l.group = spare[:0], spareStarts[:0], newGroup()
		failed := l.err
		l.mu.Unlock()
		if failed != nil {
			// After a failed write or fsync the file's tail is unknown:
			// nothing more is written, and nothing more is acknowledged.
			g.err = failed
			close(g.done)
			spare, spareStarts = chunk, starts
			continue
		}

		_, err := l.w.Write(chunk)
		if err == nil {
			err = l.w.Sync()
		}
		l.mu.Lock()
		if err != nil {
			l.err = fmt.Errorf("write ledger: %w", err)
			err = l.err
		} else {
			for _, s := range starts {
				l.offsets = append(l.offsets, base+int64(s))
			}
			l.size += int64(len(chunk))
		}
		l.mu.Unlock()
		g.err = err
		close(g.done)
		spare, spareStarts = chunk, starts
		if stopping {
			// Drain anything appended while the last group was written.
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
	}
}

// close flushes what was appended, stops the flusher and closes the files.
// It is idempotent.
func (l *ledgerFile) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	l.mu.Lock()
	err := l.err
	l.mu.Unlock()
	err = errors.Join(err, l.w.Close(), l.r.Close(), l.lock.Close())
	return err
}

// committed returns the number of durable records.
func (l *ledgerFile) committed() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.offsets))
}

// span returns the byte range of record seq.
func (l *ledgerFile) span(seq uint64) (from, to int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq == 0 || seq > uint64(len(l.offsets)) {
		return 0, 0, false
	}
	from = l.offsets[seq-1]
	if seq < uint64(len(l.offsets)) {
		return from, l.offsets[seq], true
	}
	return from, l.size, true
}

// read returns committed record seq.
func (l *ledgerFile) read(seq uint64) (*Record, error) {
	from, to, ok := l.span(seq)
	if !ok {
		return nil, fmt.Errorf("read ledger: record %d is not committed", seq)
	}
	buf := make([]byte, to-from)
	if _, err := l.r.ReadAt(buf, from); err != nil {
		return nil, fmt.Errorf("read ledger record %d: %w", seq, err)
	}
	var rec Record
	if err := json.Unmarshal(buf, &rec); err != nil {
		return nil, fmt.Errorf("read ledger record %d: %w", seq, err)
	}
	return &rec, nil
}

// scan calls fn for committed records after seq `after`, in order, until fn
// returns false or maxScan records were read. It returns the last seq read
// and whether committed records remain after it.
func (l *ledgerFile) scan(after uint64, maxScan int, fn func(*Record) bool) (last uint64, more bool, err error) {
	l.mu.Lock()
	n := uint64(len(l.offsets))
	size := l.size
	var from int64
	if after < n {
		from = l.offsets[after]
	}
	l.mu.Unlock()
	last = after
	if after >= n {
		return last, false, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(l.r, from, size-from), 256<<10)
	for scanned := 0; last < n && scanned < maxScan; scanned++ {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return last, last < n, fmt.Errorf("scan ledger after %d: %w", last, err)
		}
		var rec Record
		if err := json.Unmarshal(bytes.TrimSpace(line), &rec); err != nil {
			return last, last < n, fmt.Errorf("scan ledger record %d: %w", last+1, err)
		}
		last = rec.Seq
		if !fn(&rec) {
			break
		}
	}
	return last, last < n, nil
}
