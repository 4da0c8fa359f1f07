// Package dropdir is the file-drop lifecycle on disk: an inbox directory
// that producers drop files into, a work directory a file is claimed into
// by rename, and the archive and quarantine it leaves by rename once its
// events are committed.
//
//	<root>/inbox/                       producers drop files here
//	<root>/work/                        claimed files (one reader at a time)
//	<root>/archive/YYYY/MM/DD/<sha256>_<name>
//	<root>/quarantine/<name>            with <name>.reason.json beside it
//
// All four must be on one file system (claims and moves are renames).
// Every rename is followed by an fsync of the directories it changed, so a
// power cut cannot undo a move the connector already acted on.
//
// # Safe pickup
//
// A file is picked up only once it is complete, by one of three rules
// (Mode):
//
//   - Rename: the producer writes under a name the connector ignores (a dot
//     name, *.tmp, *.part …) and renames when done; a file with a matching
//     name is complete as soon as it is seen (and at least MinAge old).
//   - Marker: the producer writes <name>, then an empty <name>.done; the
//     marker says the data is complete. The marker is claimed into work/
//     before the data, so a crash between the two renames leaves the marker
//     in work/, which Recover uses to finish the claim; a stale marker can
//     never vouch for a newer file of the same name.
//   - Stable: the size and modification time must stay the same over
//     StablePolls polls at least Interval apart, and the file must be at
//     least MinAge old. For producers that write in place.
//
// Directory watching (fsnotify) only makes a poll come sooner; what a poll
// sees is the truth.
package dropdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Subdirectories of a drop root.
const (
	InboxDir      = "inbox"
	WorkDir       = "work"
	ArchiveDir    = "archive"
	QuarantineDir = "quarantine"
)

// ReasonSuffix ends the name of a quarantined file's reason file.
const ReasonSuffix = ".reason.json"

// Mode is a safe-pickup rule.
type Mode int

// Modes.
const (
	Rename Mode = iota // the producer renames a complete file into place
	Marker             // a <name><suffix> marker says <name> is complete
	Stable             // size and mtime unchanged over N polls, plus a minimum age
)

// ParseMode reads "rename", "done_marker" (or "marker") or "stable".
func ParseMode(s string) (Mode, bool) {
	switch s {
	case "", "rename":
		return Rename, true
	case "done_marker", "marker":
		return Marker, true
	case "stable":
		return Stable, true
	}
	return 0, false
}

// Pickup configures what is ready.
type Pickup struct {
	Mode Mode
	// Pattern selects file names (path.Match); "" is every name.
	Pattern string
	// MinAge is how old (since its last modification) a file must be.
	MinAge time.Duration
	// StablePolls is how many polls, Interval apart, must see the same
	// size and mtime (Stable mode); default 2.
	StablePolls int
	// Interval is the least time between two polls that count.
	Interval time.Duration
	// MarkerSuffix ends a marker's name; default ".done".
	MarkerSuffix string
}

// Dir is one drop root.
type Dir struct {
	Root string
	p    Pickup
	seen map[string]obs // Stable mode: what earlier polls saw
	now  func() time.Time
}

type obs struct {
	size  int64
	mtime time.Time
	count int       // polls that saw exactly this
	last  time.Time // when the last counted poll was
}

// New returns the drop at root with pickup rule p.
func New(root string, p Pickup) *Dir {
	if p.StablePolls <= 0 {
		p.StablePolls = 2
	}
	if p.MarkerSuffix == "" {
		p.MarkerSuffix = ".done"
	}
	return &Dir{Root: root, p: p, seen: map[string]obs{}, now: time.Now}
}

// SetClock replaces time.Now, for tests.
func (d *Dir) SetClock(now func() time.Time) { d.now = now }

// Path joins a path relative to the root.
func (d *Dir) Path(rel ...string) string { return filepath.Join(append([]string{d.Root}, rel...)...) }

// Ensure creates the four directories.
func (d *Dir) Ensure() error {
	for _, sub := range []string{InboxDir, WorkDir, ArchiveDir, QuarantineDir} {
		if err := os.MkdirAll(d.Path(sub), 0o750); err != nil {
			return fmt.Errorf("create %s: %w", d.Path(sub), err)
		}
	}
	return nil
}

// File is a file in the inbox or work directory.
type File struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// ignored names are never picked up: temporary names producers write
// under before the final rename.
func (d *Dir) ignored(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~") || strings.HasSuffix(name, ReasonSuffix) {
		return true
	}
	for _, s := range []string{".tmp", ".part", ".partial", ".filepart", ".crdownload", ".swp"} {
		if strings.HasSuffix(strings.ToLower(name), s) {
			return true
		}
	}
	if d.p.Mode == Marker && strings.HasSuffix(name, d.p.MarkerSuffix) {
		return true
	}
	if d.p.Pattern != "" {
		if ok, _ := path.Match(d.p.Pattern, name); !ok {
			return true
		}
	}
	return false
}

// Ready polls the inbox and returns the files ready for pickup, oldest
// first (by modification time, then name). Files that are not regular
// (directories, symbolic links, devices) are never ready.
func (d *Dir) Ready() ([]File, error) {
	entries, err := os.ReadDir(d.Path(InboxDir))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.Path(InboxDir), err)
	}
	now := d.now()
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	var ready []File
	present := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || d.ignored(name) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		f := File{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}
		present[name] = true
		young := now.Sub(f.ModTime) < d.p.MinAge
		switch d.p.Mode {
		case Marker:
			if !names[name+d.p.MarkerSuffix] {
				continue
			}
		case Stable:
			o, ok := d.seen[name]
			switch {
			case !ok || o.size != f.Size || !o.mtime.Equal(f.ModTime):
				d.seen[name] = obs{size: f.Size, mtime: f.ModTime, count: 0, last: now}
				continue
			case now.Sub(o.last) >= d.p.Interval:
				o.count++
				o.last = now
				d.seen[name] = o
			}
			if o.count < d.p.StablePolls {
				continue
			}
		}
		if young {
			continue
		}
		ready = append(ready, f)
	}
	for name := range d.seen {
		if !present[name] {
			delete(d.seen, name)
		}
	}
	if d.p.Mode == Marker {
		// A marker without its file vouches for nothing: its file was
		// claimed (marker removal is the last step of a claim) or never
		// came. Remove it so it cannot vouch for a later file.
		for name := range names {
			if data, ok := strings.CutSuffix(name, d.p.MarkerSuffix); ok && data != "" && !names[data] {
				_ = os.Remove(d.Path(InboxDir, name))
			}
		}
	}
	slices.SortFunc(ready, func(a, b File) int {
		if c := a.ModTime.Compare(b.ModTime); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return ready, nil
}

// ErrBusy is returned by Claim when work/ holds a file of the same name.
var ErrBusy = errors.New("a file of the same name is still in work/")

// Claim moves a ready file from the inbox into work/ (with its marker, in
// Marker mode). It does not sync the directories; call Sync after a group
// of claims.
func (d *Dir) Claim(name string) error {
	if _, err := os.Lstat(d.Path(WorkDir, name)); err == nil {
		return ErrBusy
	}
	if d.p.Mode == Marker {
		m := name + d.p.MarkerSuffix
		if err := os.Rename(d.Path(InboxDir, m), d.Path(WorkDir, m)); err != nil {
			return fmt.Errorf("claim %s: %w", m, err)
		}
	}
	if err := os.Rename(d.Path(InboxDir, name), d.Path(WorkDir, name)); err != nil {
		return fmt.Errorf("claim %s: %w", name, err)
	}
	if d.p.Mode == Marker {
		if err := os.Remove(d.Path(WorkDir, name+d.p.MarkerSuffix)); err != nil {
			return fmt.Errorf("claim %s: remove marker: %w", name, err)
		}
	}
	return nil
}

// Sync makes the claims durable.
func (d *Dir) Sync() error {
	if err := SyncDir(d.Path(InboxDir)); err != nil {
		return err
	}
	return SyncDir(d.Path(WorkDir))
}

// Recover finishes claims a crash interrupted (Marker mode: a marker in
// work/ whose file is still in the inbox) and returns the files in work/,
// by name.
func (d *Dir) Recover() ([]File, error) {
	entries, err := os.ReadDir(d.Path(WorkDir))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.Path(WorkDir), err)
	}
	var out []File
	for _, e := range entries {
		name := e.Name()
		if d.p.Mode == Marker {
			if data, ok := strings.CutSuffix(name, d.p.MarkerSuffix); ok && data != "" {
				if _, err := os.Lstat(d.Path(WorkDir, data)); errors.Is(err, fs.ErrNotExist) {
					if err := os.Rename(d.Path(InboxDir, data), d.Path(WorkDir, data)); err == nil {
						out = append(out, statFile(d.Path(WorkDir, data), data)...)
					}
				}
				if err := os.Remove(d.Path(WorkDir, name)); err != nil {
					return nil, fmt.Errorf("remove marker %s: %w", name, err)
				}
				continue
			}
		}
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		out = append(out, statFile(d.Path(WorkDir, name), name)...)
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	out = slices.CompactFunc(out, func(a, b File) bool { return a.Name == b.Name })
	return out, d.Sync()
}

func statFile(p, name string) []File {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	return []File{{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}}
}

// ArchivePath is where an archived file goes, relative to the root:
// archive/YYYY/MM/DD/<sha256>_<name>, dated t (pass the site-local time).
func ArchivePath(sha, name string, t time.Time) string {
	return path.Join(ArchiveDir, t.Format("2006/01/02"), sha+"_"+name)
}

// QuarantinePath is where a quarantined file goes, relative to the root:
// quarantine/<name>, or quarantine/<sha256 prefix>_<name> when a file of
// that name is already there.
func (d *Dir) QuarantinePath(sha, name string) string {
	rel := path.Join(QuarantineDir, name)
	if _, err := os.Lstat(d.Path(filepath.FromSlash(rel))); err == nil {
		rel = path.Join(QuarantineDir, sha[:min(16, len(sha))]+"_"+name)
	}
	return rel
}

// Move renames work/<name> to rel (relative to the root), creating its
// directory, and syncs both directories. A missing source whose target
// exists counts as done (the move happened before a crash).
func (d *Dir) Move(name, rel string) error {
	dir, err := d.Rename(name, rel)
	if err != nil {
		return err
	}
	return SyncDirs(dir, d.Path(WorkDir))
}

// Rename is Move without the syncs: it returns the target's directory, for
// the caller to sync (once for many renames) with SyncDirs, together with
// work/.
func (d *Dir) Rename(name, rel string) (string, error) {
	src, dst := d.Path(WorkDir, name), d.Path(filepath.FromSlash(rel))
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("move %s: %w", name, err)
	}
	if err := os.Rename(src, dst); err != nil {
		if _, serr := os.Lstat(src); errors.Is(serr, fs.ErrNotExist) {
			if _, derr := os.Lstat(dst); derr == nil {
				return dir, nil
			}
		}
		return "", fmt.Errorf("move %s to %s: %w", name, rel, err)
	}
	return dir, nil
}

// SyncDirs syncs each distinct directory once.
func SyncDirs(dirs ...string) error {
	seen := map[string]bool{}
	for _, dir := range dirs {
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if err := SyncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// Reason is the content of a quarantined file's reason file.
type Reason struct {
	File     string    `json:"file"`
	Inbox    string    `json:"inbox"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Location string    `json:"location"`
	At       time.Time `json:"at"`
}

// WriteReason writes the reason file for a file quarantined at rel.
func (d *Dir) WriteReason(rel string, r Reason) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	p := d.Path(filepath.FromSlash(rel)) + ReasonSuffix
	return WriteFileAtomic(filepath.Dir(p), filepath.Base(p), append(b, '\n'), 0o640)
}

// OutFile is a file to write with WriteFilesAtomic.
type OutFile struct {
	Name string
	Data []byte
}

// WriteFilesAtomic writes several files into dir as WriteFileAtomic does,
// but syncs their contents concurrently (the file system commits its
// journal for several at once) and the directory once.
func WriteFilesAtomic(dir string, files []OutFile, perm fs.FileMode) error {
	if len(files) == 1 {
		return WriteFileAtomic(dir, files[0].Name, files[0].Data, perm)
	}
	tmps := make([]*os.File, len(files))
	defer func() {
		for _, t := range tmps {
			if t != nil {
				t.Close()
				_ = os.Remove(t.Name())
			}
		}
	}()
	for i, f := range files {
		t, err := os.CreateTemp(dir, "."+f.Name+".tmp*")
		if err != nil {
			return fmt.Errorf("write %s: %w", f.Name, err)
		}
		tmps[i] = t
		if _, err := t.Write(f.Data); err != nil {
			return fmt.Errorf("write %s: %w", f.Name, err)
		}
		if err := t.Chmod(perm); err != nil {
			return fmt.Errorf("write %s: %w", f.Name, err)
		}
	}
	errs := make([]error, len(tmps))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, t := range tmps {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = t.Sync()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("write to %s: %w", dir, err)
	}
	for i, t := range tmps {
		if err := t.Close(); err != nil {
			return fmt.Errorf("write %s: %w", files[i].Name, err)
		}
		if err := os.Rename(t.Name(), filepath.Join(dir, files[i].Name)); err != nil {
			return fmt.Errorf("write %s: %w", files[i].Name, err)
		}
		tmps[i] = nil
	}
	return SyncDir(dir)
}

// WriteFileAtomic writes name in dir through a temporary dot file, fsyncs
// it, renames it into place and fsyncs dir: readers never see a partial
// file, and after a crash the file is either whole or absent.
func WriteFileAtomic(dir, name string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return SyncDir(dir)
}
