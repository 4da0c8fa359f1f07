package filedrop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/dropdir"
	"github.com/draylink/dray/plugins/filedrop/journal"
	"github.com/draylink/dray/plugins/filedrop/x12"
	"github.com/draylink/dray/plugins/filedrop/x12map"
	"github.com/draylink/dray/plugins/sdk"
)

// Batch limits besides batch_size.
const (
	maxFilesPerBatch = 64      // files finished by one batch (keeps the cursor small)
	maxBatchBytes    = 2 << 20 // encoded events per batch (the spool takes 4 MiB per commit)
	maxClaimsPerPoll = 64      // files claimed from one inbox per poll
	headBytes        = 4 << 10 // bytes of a quarantined file sent with its reject
)

// Read emits the events of the files dropped in the inboxes, starting after
// cursor, until ctx ends. See doc.go for the lifecycle and the cursor.
func (c *Connector) Read(ctx context.Context, cursor []byte, out sdk.Emitter) error {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	if cfg == nil {
		return errors.New("read: the connector is not configured")
	}
	cur, err := decodeCursor(cursor)
	if err != nil {
		return err
	}
	r, err := c.newRun(ctx, cfg, out)
	if err != nil {
		return err
	}
	defer r.close()
	if err := r.recover(ctx, cur); err != nil {
		return r.stopped(ctx, err)
	}
	hints := r.watch(ctx)
	for {
		busy, err := r.poll(ctx)
		if err != nil {
			return r.stopped(ctx, err)
		}
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cfg.cfg.PollInterval):
		case <-hints:
			// A change in an inbox: poll sooner. What the poll finds is
			// the truth; a stable-size inbox still waits its polls.
		}
	}
}

// run is the state of one Read.
type run struct {
	c     *Connector
	cfg   *compiled
	out   sdk.Emitter
	log   *slog.Logger
	j     *journal.Journal
	lock  *stateLock
	stopW func() // stops the watcher, waits for it

	seq, ctl uint64 // last sequence and 997 control number used
	b        batch

	// Files of the uncommitted batch, for duplicate checks.
	pendingHash map[string]bool
	pendingKeys map[string]string

	inboxes map[string]*inbox
	now     func() time.Time
}

// batch is what the next Emit carries.
type batch struct {
	events  []*canonical.Event
	rejects []sdk.Reject
	done    []doneItem
	cur     *curPos
	bytes   int
}

func (b *batch) empty() bool {
	return len(b.events) == 0 && len(b.rejects) == 0 && len(b.done) == 0 && b.cur == nil
}

func (c *Connector) newRun(ctx context.Context, cfg *compiled, out sdk.Emitter) (*run, error) {
	r := &run{c: c, cfg: cfg, out: out, log: c.log, pendingHash: map[string]bool{}, pendingKeys: map[string]string{},
		inboxes: map[string]*inbox{}, now: time.Now, stopW: func() {}}
	if err := os.MkdirAll(cfg.cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	lock, err := lockState(ctx, cfg.cfg.StateDir)
	if err != nil {
		return nil, err
	}
	r.lock = lock
	j, err := journal.Open(cfg.cfg.StateDir, cfg.cfg.DedupWindow, r.now())
	if err != nil {
		lock.release()
		return nil, err
	}
	r.j = j
	for _, ib := range cfg.inboxes {
		if err := ib.dir.Ensure(); err != nil {
			r.close()
			return nil, err
		}
		r.inboxes[ib.name] = ib
	}
	return r, nil
}

func (r *run) close() {
	r.stopW()
	if r.j != nil {
		_ = r.j.Close()
	}
	if r.lock != nil {
		r.lock.release()
	}
}

// stopped returns ctx's error when the read was cancelled (the error is
// then the cancellation's echo), else err.
func (r *run) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// recover brings the drop in line with the cursor: it finishes the files
// the cursor's batch completed, re-emits the files finished after the
// cursor (an older cursor), and reads what was left in work/.
func (r *run) recover(ctx context.Context, cur *cursor) error {
	first := r.cfg.firstCtl - 1
	if cur == nil {
		r.seq, r.ctl = r.j.MaxSeq(), max(r.j.MaxCtl(), first)
	} else {
		r.seq, r.ctl = cur.Seq, max(cur.Ctl, r.j.MaxCtl(), first)
		if err := r.finish(cur.Done, true); err != nil {
			return err
		}
		for _, e := range r.j.After(cur.Seq) {
			if err := r.replay(ctx, e, cur.Cur); err != nil {
				return err
			}
		}
	}
	r.seq = max(r.seq, r.j.MaxSeq())
	var cc *curPos
	if cur != nil {
		cc = cur.Cur
	}
	for _, ib := range r.cfg.inboxes {
		files, err := ib.dir.Recover()
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.recoverWork(ctx, ib, f.Name, cc); err != nil {
				return err
			}
		}
	}
	return r.flush(ctx)
}

// recoverWork handles a file found in work/ at start.
func (r *run) recoverWork(ctx context.Context, ib *inbox, name string, cc *curPos) error {
	path := ib.dir.Path(dropdir.WorkDir, name)
	sha, err := hashFile(path)
	if err != nil {
		return err
	}
	if e, ok := r.j.Find(ib.name, name, sha); ok && e.Seq > 0 {
		if _, err := os.Lstat(ib.dir.Path(filepath.FromSlash(e.Path))); errors.Is(err, fs.ErrNotExist) {
			// Journaled, then a crash before the move: finish it. (When
			// the destination exists, this is the same file dropped
			// again, read as any other.)
			r.log.Info("finishing a file journaled before a restart", "inbox", ib.name, "file", name, "to", e.Path)
			return r.move(ib, name, e)
		}
	}
	start, fresh := filePos{}, true
	if cc != nil && cc.Inbox == ib.name && cc.Name == name && cc.SHA256 == sha {
		start, fresh = cc.filePos, false
		r.log.Info("resuming a file after its last committed record", "inbox", ib.name, "file", name, "record", start.Rec)
	}
	return r.process(ctx, ib, name, path, sha, start, fresh, nil)
}

// replay emits a file finished after the cursor again, from where it went.
func (r *run) replay(ctx context.Context, e *journal.Entry, cc *curPos) error {
	ib := r.inboxes[e.Inbox]
	if ib == nil {
		r.log.Warn("cannot re-emit a file of an inbox no longer configured", "inbox", e.Inbox, "file", e.Name)
		return nil
	}
	r.log.Info("re-emitting a file finished after the cursor", "inbox", e.Inbox, "file", e.Name, "seq", e.Seq, "from", e.Path)
	switch e.Outcome {
	case journal.Quarantined:
		r.addItem(item{rej: &sdk.Reject{Code: e.Code, Reason: e.Message, Ref: e.Location}})
		return r.complete(ctx, doneItem{Seq: e.Seq, Inbox: e.Inbox, Name: e.Name, SHA256: e.SHA256, Outcome: e.Outcome, replay: true})
	case journal.Archived:
		path := ib.dir.Path(filepath.FromSlash(e.Path))
		if sha, err := hashFile(ib.dir.Path(dropdir.WorkDir, e.Name)); err == nil && sha == e.SHA256 {
			// Journaled but still in work/: finish the move first.
			if err := r.move(ib, e.Name, e); err != nil {
				return err
			}
		}
		if _, err := os.Stat(path); err != nil {
			r.log.Warn("cannot re-emit a file that left the archive", "inbox", e.Inbox, "file", e.Name, "path", e.Path, "err", err)
			r.seq = max(r.seq, e.Seq)
			return nil
		}
		start := filePos{}
		if cc != nil && cc.SHA256 == e.SHA256 && cc.Name == e.Name {
			start = cc.filePos
		}
		return r.process(ctx, ib, e.Name, path, e.SHA256, start, false, e)
	}
	return nil
}

// poll claims the ready files of every inbox and reads them. It reports
// whether there was anything to do.
func (r *run) poll(ctx context.Context) (bool, error) {
	busy := false
	for _, ib := range r.cfg.inboxes {
		if err := ctx.Err(); err != nil {
			return busy, err
		}
		ready, err := ib.dir.Ready()
		if err != nil {
			return busy, err
		}
		var claimed []string
		for _, f := range ready {
			if len(claimed) == maxClaimsPerPoll {
				break
			}
			switch err := ib.dir.Claim(f.Name); {
			case err == nil:
				claimed = append(claimed, f.Name)
			case errors.Is(err, dropdir.ErrBusy), errors.Is(err, fs.ErrNotExist):
				// In work/ under the same name, or gone: next poll.
			default:
				return busy, err
			}
		}
		if len(claimed) == 0 {
			continue
		}
		if err := ib.dir.Sync(); err != nil {
			return busy, err
		}
		r.c.crash.at("after_claim")
		busy = true
		for _, name := range claimed {
			path := ib.dir.Path(dropdir.WorkDir, name)
			sha, err := hashFile(path)
			if err != nil {
				return busy, err
			}
			if err := r.process(ctx, ib, name, path, sha, filePos{}, true, nil); err != nil {
				return busy, err
			}
		}
	}
	return busy, r.flush(ctx)
}

// process reads one file from start into the batch, emitting whenever the
// batch is full. fresh files are checked for duplicates first; replay is
// the journal entry of a file re-emitted from the archive.
func (r *run) process(ctx context.Context, ib *inbox, name, path, sha string, start filePos, fresh bool, replay *journal.Entry) error {
	if fresh {
		if e, ok := r.j.Archived(sha); ok {
			return r.finishDuplicate(ib, name, sha, fmt.Sprintf("the same content as %s (%s)", e.Name, e.Path))
		}
		if r.pendingHash[sha] {
			return r.finishDuplicate(ib, name, sha, "the same content as a file read just before")
		}
	}
	op, prob, err := r.open(ib, path, name, replay != nil)
	if err != nil {
		return err
	}
	d := doneItem{Inbox: ib.name, Name: name, SHA256: sha}
	if replay != nil {
		d.Seq, d.replay = replay.Seq, true
	}
	if prob != nil {
		r.log.Warn("file quarantined", "inbox", ib.name, "file", name, "code", prob.code, "location", prob.loc, "reason", prob.msg)
		r.addItem(item{rej: &sdk.Reject{Code: prob.code, Reason: prob.msg, Ref: prob.loc, Payload: head(path)}})
		d.Outcome, d.Code, d.Message, d.Location, d.Rejects = journal.Quarantined, prob.code, clip(prob.msg, 500), prob.loc, 1
		return r.complete(ctx, d)
	}
	if op.duplicate {
		return r.finishDuplicate(ib, name, sha, "every interchange in it was received before")
	}
	err = prefetch(ctx, op, start, func(it item) error {
		if it.ev != nil {
			d.Events++
		} else {
			d.Rejects++
		}
		r.addItem(it)
		if len(r.b.events)+len(r.b.rejects) >= r.cfg.cfg.BatchSize || r.b.bytes >= maxBatchBytes {
			r.b.cur = &curPos{Inbox: ib.name, Name: name, SHA256: sha, filePos: it.pos}
			return r.flush(ctx)
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	d.Outcome, d.X12, d.Acks = journal.Archived, op.x12, op.acks
	return r.complete(ctx, d)
}

// prefetchItems is how many records the reader may run ahead of the
// batches: about two batches.
const prefetchItems = 1024

// prefetch reads op's items after start in a goroutine of its own and
// hands them to fn in order, so that reading and mapping the next records
// overlaps the SDK's validation of a batch and the agent's commit of it (an
// Emit blocks until the commit). It returns fn's first error, or the
// reader's, after the reader has stopped.
func prefetch(ctx context.Context, op *opened, start filePos, fn func(item) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan item, prefetchItems)
	var readErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(items)
		readErr = op.each(start, func(it item) error {
			select {
			case items <- it:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var err error
	for it := range items {
		if err != nil {
			continue // draining until the reader sees the cancellation
		}
		if err = fn(it); err != nil {
			cancel()
		}
	}
	<-done
	if err != nil {
		return err
	}
	return readErr
}

func (r *run) addItem(it item) {
	if it.ev != nil {
		r.b.events = append(r.b.events, it.ev)
		r.b.bytes += it.ev.SizeVT()
	}
	if it.rej != nil {
		r.b.rejects = append(r.b.rejects, *it.rej)
		r.b.bytes += len(it.rej.Payload) + len(it.rej.Reason)
	}
}

// complete records a file as finished in the batch, numbering it.
func (r *run) complete(ctx context.Context, d doneItem) error {
	if d.replay {
		r.seq = max(r.seq, d.Seq)
	} else {
		r.seq++
		d.Seq = r.seq
		if d.Acks > 0 && r.cfg.ack {
			next := r.ctl + 1
			if next+uint64(d.Acks)-1 > 999_999_999 {
				next = 1
			}
			d.Ctl = next
			r.ctl = next + uint64(d.Acks) - 1
		}
		if d.Outcome == journal.Archived {
			r.pendingHash[d.SHA256] = true
			for _, ic := range d.X12 {
				r.pendingKeys[ic.Key] = ic.SHA256
			}
		}
	}
	r.b.done = append(r.b.done, d)
	r.b.cur = nil
	if len(r.b.done) >= maxFilesPerBatch {
		return r.flush(ctx)
	}
	return nil
}

// flush emits the batch and, once the agent committed it, finishes the
// files it completed.
func (r *run) flush(ctx context.Context) error {
	if r.b.empty() {
		return nil
	}
	c := cursor{V: cursorVersion, Seq: r.seq, Ctl: r.ctl, Cur: r.b.cur}
	for _, d := range r.b.done {
		if !d.replay {
			c.Done = append(c.Done, d)
		}
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	r.c.crash.at("before_commit")
	// Every event was made by canonical.NewEvent or passed canonical.Validate.
	if err := r.out.Emit(ctx, sdk.Batch{Events: r.b.events, Rejects: r.b.rejects, Cursor: raw, Validated: true}); err != nil {
		return err
	}
	r.c.crash.at("after_commit")
	done := c.Done
	r.b = batch{}
	if err := r.finish(done, false); err != nil {
		return err
	}
	clear(r.pendingHash)
	clear(r.pendingKeys)
	return nil
}

// finish moves the files a committed batch completed out of work/: it
// writes their 997s, journals them (one fsync), then archives or
// quarantines them. Every step is idempotent: a restart repeats what a
// crash interrupted. verify (after a restart) checks that each file is
// still in work/ as it was read.
func (r *run) finish(done []doneItem, verify bool) error {
	type move struct {
		ib *inbox
		e  journal.Entry
	}
	var moves []move
	var entries []journal.Entry
	var acks []dropdir.OutFile
	now := r.now().In(r.cfg.zone)
	for _, d := range done {
		if d.replay {
			continue
		}
		ib := r.inboxes[d.Inbox]
		if ib == nil {
			r.log.Warn("a finished file's inbox is no longer configured; leaving it", "inbox", d.Inbox, "file", d.Name)
			continue
		}
		if e, ok := r.j.Find(d.Inbox, d.Name, d.SHA256); ok && e.Seq == d.Seq {
			moves = append(moves, move{ib, *e})
			continue
		}
		if verify {
			path := ib.dir.Path(dropdir.WorkDir, d.Name)
			if sha, err := hashFile(path); err != nil || sha != d.SHA256 {
				r.log.Warn("a finished file is no longer in work/ as it was read; leaving it", "inbox", d.Inbox, "file", d.Name, "err", err)
				continue
			}
		}
		if d.Outcome == journal.Archived && d.Acks > 0 && d.Ctl > 0 {
			out, err := r.ack997(ib, d)
			if err != nil {
				return err
			}
			acks = append(acks, out...)
		}
		e := journal.Entry{Seq: d.Seq, SHA256: d.SHA256, Inbox: d.Inbox, Name: d.Name, Outcome: d.Outcome, At: now.UTC(),
			Events: d.Events, Rejects: d.Rejects, Interchanges: d.X12, Ctl: d.Ctl, Acks: d.Acks,
			Code: d.Code, Message: d.Message, Location: d.Location}
		if d.Outcome == journal.Quarantined {
			e.Path = ib.dir.QuarantinePath(d.SHA256, d.Name)
		} else {
			e.Path = dropdir.ArchivePath(d.SHA256, d.Name, now)
		}
		entries = append(entries, e)
		moves = append(moves, move{ib, e})
	}
	if len(acks) > 0 {
		if err := dropdir.WriteFilesAtomic(r.cfg.outbox, acks, 0o640); err != nil {
			return err
		}
		r.log.Info("997s written", "count", len(acks), "first", acks[0].Name)
		r.c.crash.at("after_997")
	}
	if err := r.j.Append(entries...); err != nil {
		return err
	}
	if len(entries) > 0 {
		r.c.crash.at("after_journal")
	}
	var dirs []string
	for i, m := range moves {
		dir, err := r.rename(m.ib, m.e.Name, &m.e)
		if err != nil {
			return err
		}
		dirs = append(dirs, dir, m.ib.dir.Path(dropdir.WorkDir))
		if i == 0 {
			r.c.crash.at("after_move")
		}
	}
	return dropdir.SyncDirs(dirs...)
}

// move takes a journaled file from work/ to where the journal says.
func (r *run) move(ib *inbox, name string, e *journal.Entry) error {
	dir, err := r.rename(ib, name, e)
	if err != nil {
		return err
	}
	return dropdir.SyncDirs(dir, ib.dir.Path(dropdir.WorkDir))
}

// rename is move without the directory syncs; it returns the target
// directory to sync.
func (r *run) rename(ib *inbox, name string, e *journal.Entry) (string, error) {
	if e.Outcome == journal.Quarantined {
		var size int64
		if fi, err := os.Stat(ib.dir.Path(dropdir.WorkDir, name)); err == nil {
			size = fi.Size()
		}
		if err := ib.dir.WriteReason(e.Path, dropdir.Reason{File: name, Inbox: ib.name, SHA256: e.SHA256, Size: size,
			Code: e.Code, Message: e.Message, Location: e.Location, At: e.At}); err != nil {
			return "", err
		}
	}
	return ib.dir.Rename(name, e.Path)
}

// finishDuplicate archives a file whose content was archived before,
// without emitting anything.
func (r *run) finishDuplicate(ib *inbox, name, sha, why string) error {
	r.log.Info("duplicate file archived without emitting", "inbox", ib.name, "file", name, "why", why)
	e := journal.Entry{SHA256: sha, Inbox: ib.name, Name: name, Outcome: journal.Duplicate, At: r.now().UTC(),
		Path: dropdir.ArchivePath(sha, name, r.now().In(r.cfg.zone)), Message: why}
	if err := r.j.Append(e); err != nil {
		return err
	}
	return r.move(ib, name, &e)
}

// interchangeSeen returns the content hash an interchange key was
// received with, in the journal or the uncommitted batch.
func (r *run) interchangeSeen(key string) (string, bool) {
	if h, ok := r.pendingKeys[key]; ok {
		return h, true
	}
	return r.j.Interchange(key)
}

// ack997 makes the 997s for the fresh interchanges of an archived X12
// file, with the control numbers the cursor assigned and the file's
// modification time: a restart makes the same bytes again.
func (r *run) ack997(ib *inbox, d doneItem) ([]dropdir.OutFile, error) {
	path := ib.dir.Path(dropdir.WorkDir, d.Name)
	data, err := os.ReadFile(path) //nolint:gosec // a file of the drop
	if err != nil {
		return nil, fmt.Errorf("997 for %s: %w", d.Name, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("997 for %s: %w", d.Name, err)
	}
	ics, err := x12.ParseAll(data)
	if err != nil {
		return nil, fmt.Errorf("997 for %s: %w", d.Name, err)
	}
	var files []dropdir.OutFile
	fresh := map[string]string{}
	for _, ic := range d.X12 {
		fresh[ic.Key] = ic.SHA256
	}
	next := d.Ctl
	at := fi.ModTime().In(r.cfg.zone)
	for _, ic := range ics {
		if h, ok := fresh[ic.Key()]; !ok || h != interchangeHash(ic) {
			continue
		}
		a := x12.Acknowledge(ic, x12map.Supported)
		if a == nil {
			continue
		}
		ctl := next
		b, err := a.Encode997(x12.Outbound{Counter: x12.CounterFunc(func() (uint64, error) { return ctl, nil }), Now: at})
		if err != nil {
			return nil, fmt.Errorf("997 for %s: %w", d.Name, err)
		}
		out := fmt.Sprintf("997_%09d_%s_%s.edi", ctl, safeName(ic.SenderID), ic.ControlNumber)
		files = append(files, dropdir.OutFile{Name: out, Data: b})
		if a.Status() != x12.AckAccepted {
			r.log.Warn("997 rejects sets", "file", d.Name, "interchange", ic.ControlNumber, "ack", out, "status", a.Status())
		}
		next++
	}
	return files, nil
}

// safeName keeps letters, digits, '-' and '_' of an id for a file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// hashFile returns a file's SHA-256 in hex.
func hashFile(path string) (string, error) {
	f, err := os.Open(path) //nolint:gosec // a file of the drop
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// head returns the first bytes of a file, for a quarantined file's reject.
func head(path string) []byte {
	f, err := os.Open(path) //nolint:gosec // a file of the drop
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, headBytes)
	n, _ := io.ReadFull(f, b)
	return b[:n]
}
