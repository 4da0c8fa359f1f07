package dropdir

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func names(fs []File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func write(t *testing.T, p string, data string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// TestStable drives the clock by hand: a file is ready only after the same
// size and mtime were seen on StablePolls polls Interval apart, and once it
// is MinAge old.
func TestStable(t *testing.T) {
	d := New(t.TempDir(), Pickup{Mode: Stable, StablePolls: 2, Interval: time.Second, MinAge: 5 * time.Second})
	if err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	d.SetClock(func() time.Time { return now })
	p := d.Path(InboxDir, "a.csv")
	write(t, p, "1", now.Add(-10*time.Second))
	poll := func() []string {
		t.Helper()
		r, err := d.Ready()
		if err != nil {
			t.Fatal(err)
		}
		return names(r)
	}
	if got := poll(); len(got) != 0 {
		t.Fatalf("ready at first sight: %v", got)
	}
	now = now.Add(time.Second)
	write(t, p, "12", now.Add(-10*time.Second)) // it grew
	if got := poll(); len(got) != 0 {
		t.Fatalf("ready after growing: %v", got)
	}
	now = now.Add(time.Second)
	if got := poll(); len(got) != 0 {
		t.Fatalf("ready after one stable poll: %v", got)
	}
	now = now.Add(100 * time.Millisecond) // too soon to count
	if got := poll(); len(got) != 0 {
		t.Fatalf("ready after a poll too soon: %v", got)
	}
	now = now.Add(time.Second)
	if got := poll(); !slices.Equal(got, []string{"a.csv"}) {
		t.Fatalf("not ready after two stable polls: %v", got)
	}
	// A fresh file waits for MinAge whatever the polls say.
	write(t, d.Path(InboxDir, "b.csv"), "1", now)
	for range 4 {
		now = now.Add(time.Second)
		if got := poll(); slices.Contains(got, "b.csv") {
			t.Fatalf("b.csv ready before its minimum age")
		}
	}
	now = now.Add(2 * time.Second)
	if got := poll(); !slices.Contains(got, "b.csv") {
		t.Fatalf("b.csv not ready once old and stable: %v", got)
	}
}

func TestMarkerClaimAndRecover(t *testing.T) {
	d := New(t.TempDir(), Pickup{Mode: Marker})
	if err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	write(t, d.Path(InboxDir, "a.xml"), "<a/>", old)
	write(t, d.Path(InboxDir, "b.xml"), "<b/>", old)
	write(t, d.Path(InboxDir, "b.xml.done"), "", old)
	r, err := d.Ready()
	if err != nil || !slices.Equal(names(r), []string{"b.xml"}) {
		t.Fatalf("Ready = %v, %v; want b.xml only", names(r), err)
	}
	if err := d.Claim("b.xml"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d.Path(InboxDir, "b.xml.done"), d.Path(WorkDir, "b.xml.done"), d.Path(InboxDir, "b.xml")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left after the claim", p)
		}
	}
	// A crash between the marker's claim and the file's: Recover finishes it.
	write(t, d.Path(InboxDir, "c.xml"), "<c/>", old)
	if err := os.Rename(filepath.Join(d.Root, InboxDir, "a.xml"), d.Path(InboxDir, "a.xml")); err != nil {
		t.Fatal(err)
	}
	write(t, d.Path(WorkDir, "c.xml.done"), "", old)
	got, err := d.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names(got), []string{"b.xml", "c.xml"}) {
		t.Errorf("Recover = %v; want b.xml and c.xml", names(got))
	}
	if _, err := os.Stat(d.Path(WorkDir, "c.xml.done")); err == nil {
		t.Error("the marker is still in work/")
	}
	if err := d.Claim("b.xml"); err != ErrBusy { //nolint:errorlint // the sentinel itself
		t.Errorf("claiming a name still in work/ = %v; want ErrBusy", err)
	}
}

func TestMoveIdempotent(t *testing.T) {
	d := New(t.TempDir(), Pickup{})
	if err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	write(t, d.Path(WorkDir, "a.csv"), "x", time.Now())
	rel := ArchivePath("abc", "a.csv", time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC))
	if rel != "archive/2025/03/14/abc_a.csv" {
		t.Errorf("ArchivePath = %s", rel)
	}
	for range 2 {
		if err := d.Move("a.csv", rel); err != nil {
			t.Fatalf("Move (again after a crash): %v", err)
		}
	}
	if b, err := os.ReadFile(d.Path(filepath.FromSlash(rel))); err != nil || string(b) != "x" {
		t.Errorf("archived file: %q, %v", b, err)
	}
	write(t, d.Path(QuarantineDir, "q.csv"), "old", time.Now())
	if got := d.QuarantinePath("0123456789abcdef0123", "q.csv"); got != "quarantine/0123456789abcdef_q.csv" {
		t.Errorf("QuarantinePath with a name taken = %s", got)
	}
}
