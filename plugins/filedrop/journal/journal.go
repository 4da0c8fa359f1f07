// Package journal is the file-drop connector's memory of the files it
// finished: an append-only JSON-lines file, one line per file, fsynced
// before the file leaves work/.
//
// What it answers:
//
//   - Have these bytes been archived before? (dedup by content hash: the
//     same content under a new name is archived without emitting again)
//   - Which content did an X12 interchange key (sender, receiver, ISA13)
//     come with? (the same key with other content is a reused control number)
//   - Where did a file of work/ go? (a crash between the journal line and
//     the rename: finish the rename)
//   - Which files were finished after a given sequence number? (a connector
//     restarted from an older cursor emits them again from the archive)
//   - Which sequence and 997 control numbers were used last?
//
// A line torn by a crash (the last one, without its newline or not valid
// JSON) is cut off when the journal opens; damage before the last line is
// an error, never skipped. Lines older than the dedup window are dropped by
// rewriting the file (to a temporary file, fsynced, renamed) when they make
// up half of it.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/draylink/dray/plugins/filedrop/dropdir"
)

// FileName is the journal's name in the state directory.
const FileName = "journal.jsonl"

// Outcomes.
const (
	Archived    = "archived"
	Quarantined = "quarantined"
	Duplicate   = "duplicate" // same content as an archived file: archived, nothing emitted
)

// Entry is one finished file.
type Entry struct {
	// Seq orders the files whose events (or reject) were committed: 1, 2,
	// 3 … without reuse. Zero for duplicates, which emitted nothing.
	Seq     uint64 `json:"seq,omitempty"`
	SHA256  string `json:"sha256"`
	Inbox   string `json:"inbox"`
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
	// Path is where the file went, relative to its inbox's root.
	Path string    `json:"path"`
	At   time.Time `json:"at"`
	// Events and Rejects count what the file gave.
	Events  int `json:"events,omitempty"`
	Rejects int `json:"rejects,omitempty"`
	// Interchanges are the X12 interchanges the file delivered.
	Interchanges []Interchange `json:"x12,omitempty"`
	// Ctl is the first 997 control number used for the file, Acks how many.
	Ctl  uint64 `json:"ctl,omitempty"`
	Acks int    `json:"acks,omitempty"`
	// Code, Message and Location say why a file was quarantined.
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
	Location string `json:"location,omitempty"`
}

// Interchange is one X12 interchange a file delivered.
type Interchange struct {
	Key    string `json:"key"`    // x12.Interchange.Key()
	SHA256 string `json:"sha256"` // of the interchange's bytes
}

// Journal is an open journal. It is not safe for concurrent use.
type Journal struct {
	path    string
	f       *os.File
	entries []*Entry
	byHash  map[string]*Entry // archived entries by content hash
	byKey   map[string]string // interchange key → interchange hash
	maxSeq  uint64
	maxCtl  uint64
}

// Open opens (creating) the journal in dir, cuts off a torn last line and
// drops entries older than window (counted back from now) when they are
// half of the file or more. The caller holds the state directory's lock.
func Open(dir string, window time.Duration, now time.Time) (*Journal, error) {
	p := filepath.Join(dir, FileName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640) //nolint:gosec // the connector's state directory
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := &Journal{path: p, f: f}
	keep, total, err := j.load(now.Add(-window))
	if err != nil {
		f.Close()
		return nil, err
	}
	if total > 0 && len(keep)*2 <= total && total >= 64 {
		if err := j.rewrite(keep); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := j.f.Seek(0, io.SeekEnd); err != nil {
		j.f.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	return j, nil
}

// load reads every line, indexes the entries at or after cutoff, and
// truncates a torn tail. It returns the entries to keep and the number read.
func (j *Journal) load(cutoff time.Time) ([]*Entry, int, error) {
	r := bufio.NewReaderSize(j.f, 64<<10)
	var off int64
	lineNo := 0
	var all []*Entry
	for {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("read journal: %w", err)
		}
		lineNo++
		var e Entry
		complete := bytes.HasSuffix(line, []byte("\n"))
		if jerr := json.Unmarshal(line, &e); jerr != nil || !complete {
			if _, more := r.Peek(1); more == nil {
				return nil, 0, fmt.Errorf("journal %s is damaged at line %d (%d bytes in): %w; move it aside to start over (files already archived may then be emitted again if re-delivered)",
					j.path, lineNo, off, errDamaged(jerr))
			}
			// The last line, torn by a crash during its write: cut it off.
			if err := j.f.Truncate(off); err != nil {
				return nil, 0, fmt.Errorf("cut the torn end of the journal: %w", err)
			}
			if err := j.f.Sync(); err != nil {
				return nil, 0, fmt.Errorf("cut the torn end of the journal: %w", err)
			}
			break
		}
		off += int64(len(line))
		all = append(all, &e)
		if errors.Is(err, io.EOF) {
			break
		}
	}
	j.byHash, j.byKey = map[string]*Entry{}, map[string]string{}
	var keep []*Entry
	for i, e := range all {
		j.maxSeq = max(j.maxSeq, e.Seq)
		if e.Ctl > 0 && e.Acks > 0 {
			j.maxCtl = max(j.maxCtl, e.Ctl+uint64(e.Acks)-1)
		}
		// The last entry always stays: it carries the highest numbers.
		if e.At.Before(cutoff) && i != len(all)-1 {
			continue
		}
		keep = append(keep, e)
		j.index(e)
	}
	return keep, len(all), nil
}

func (j *Journal) index(e *Entry) {
	j.entries = append(j.entries, e)
	if e.Outcome == Archived {
		j.byHash[e.SHA256] = e
		for _, ic := range e.Interchanges {
			j.byKey[ic.Key] = ic.SHA256
		}
	}
}

// rewrite replaces the file with the kept entries.
func (j *Journal) rewrite(keep []*Entry) error {
	var buf bytes.Buffer
	for _, e := range keep {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("compact journal: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0) //nolint:gosec // the connector's state directory
	if err != nil {
		return fmt.Errorf("compact journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("compact journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		f.Close()
		return fmt.Errorf("compact journal: %w", err)
	}
	j.f.Close()
	j.f = f
	return dropdir.SyncDir(filepath.Dir(j.path))
}

// errDamaged names a line that is not a journal entry.
func errDamaged(err error) error {
	if err == nil {
		return errors.New("the line does not end with a newline")
	}
	return err
}

// Append writes entries and fsyncs them.
func (j *Journal) Append(es ...Entry) error {
	if len(es) == 0 {
		return nil
	}
	var buf bytes.Buffer
	for _, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("append to journal: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if _, err := j.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	for i := range es {
		e := es[i]
		j.maxSeq = max(j.maxSeq, e.Seq)
		if e.Ctl > 0 && e.Acks > 0 {
			j.maxCtl = max(j.maxCtl, e.Ctl+uint64(e.Acks)-1)
		}
		j.index(&e)
	}
	return nil
}

// Archived returns the archived entry with this content hash.
func (j *Journal) Archived(sha string) (*Entry, bool) {
	e, ok := j.byHash[sha]
	return e, ok
}

// Interchange returns the content hash an X12 interchange key was
// archived with.
func (j *Journal) Interchange(key string) (string, bool) {
	h, ok := j.byKey[key]
	return h, ok
}

// Find returns the latest entry for a file of this inbox, name and content.
func (j *Journal) Find(inbox, name, sha string) (*Entry, bool) {
	for i := len(j.entries) - 1; i >= 0; i-- {
		if e := j.entries[i]; e.Inbox == inbox && e.Name == name && e.SHA256 == sha {
			return e, true
		}
	}
	return nil, false
}

// After returns the entries with a sequence number above seq, in order.
func (j *Journal) After(seq uint64) []*Entry {
	var out []*Entry
	for _, e := range j.entries {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *Entry) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return out
}

// MaxSeq is the highest sequence number written.
func (j *Journal) MaxSeq() uint64 { return j.maxSeq }

// MaxCtl is the highest 997 control number written.
func (j *Journal) MaxCtl() uint64 { return j.maxCtl }

// Len is the number of entries held.
func (j *Journal) Len() int { return len(j.entries) }

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }
