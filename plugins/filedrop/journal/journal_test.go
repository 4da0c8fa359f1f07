package journal

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

func TestAppendReopen(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	err = j.Append(
		Entry{Seq: 1, SHA256: "aa", Inbox: "edi", Name: "a.edi", Outcome: Archived, At: t0, Ctl: 7, Acks: 2,
			Interchanges: []Interchange{{Key: "ZZ/A/ZZ/B/000000001", SHA256: "i1"}}},
		Entry{Seq: 2, SHA256: "bb", Inbox: "wms", Name: "b.csv", Outcome: Quarantined, At: t0, Code: "csv_empty"},
		Entry{SHA256: "aa", Inbox: "edi", Name: "a2.edi", Outcome: Duplicate, At: t0},
	)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, err = Open(dir, time.Hour, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if e, ok := j.Archived("aa"); !ok || e.Name != "a.edi" {
		t.Errorf("Archived(aa) = %v, %v", e, ok)
	}
	if _, ok := j.Archived("bb"); ok {
		t.Error("a quarantined file counts as archived")
	}
	if h, ok := j.Interchange("ZZ/A/ZZ/B/000000001"); !ok || h != "i1" {
		t.Errorf("Interchange = %q, %v", h, ok)
	}
	if e, ok := j.Find("edi", "a2.edi", "aa"); !ok || e.Outcome != Duplicate {
		t.Errorf("Find = %v, %v", e, ok)
	}
	if j.MaxSeq() != 2 || j.MaxCtl() != 8 {
		t.Errorf("MaxSeq, MaxCtl = %d, %d; want 2, 8", j.MaxSeq(), j.MaxCtl())
	}
	var seqs []uint64
	for _, e := range j.After(1) {
		seqs = append(seqs, e.Seq)
	}
	if !slices.Equal(seqs, []uint64{2}) {
		t.Errorf("After(1) = %v; want [2]", seqs)
	}
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	good := `{"seq":1,"sha256":"aa","inbox":"x","name":"a","outcome":"archived","path":"p","at":"2025-03-14T12:00:00Z"}` + "\n"
	if err := os.WriteFile(p, []byte(good+`{"seq":2,"sha2`), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := Open(dir, time.Hour, t0)
	if err != nil {
		t.Fatalf("a torn last line must be cut off, not refused: %v", err)
	}
	if err := j.Append(Entry{Seq: 2, SHA256: "bb", Outcome: Archived, At: t0}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	raw, _ := os.ReadFile(p)
	if lines := strings.Count(string(raw), "\n"); lines != 2 || !strings.HasPrefix(string(raw), good) {
		t.Errorf("journal after the repair:\n%s", raw)
	}

	// Damage before the last line is refused.
	if err := os.WriteFile(p, []byte("garbage\n"+good), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, time.Hour, t0); err == nil || !strings.Contains(err.Error(), "damaged at line 1") {
		t.Errorf("Open over a damaged journal = %v; want an error naming line 1", err)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	var es []Entry
	for i := range 100 {
		es = append(es, Entry{Seq: uint64(i + 1), SHA256: "old", Outcome: Archived, At: t0})
	}
	for i := range 10 {
		es = append(es, Entry{Seq: uint64(101 + i), SHA256: "new", Outcome: Archived, At: t0.Add(48 * time.Hour), Ctl: uint64(i + 1), Acks: 1})
	}
	if err := j.Append(es...); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, err = Open(dir, 24*time.Hour, t0.Add(50*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.Len() != 10 || j.MaxSeq() != 110 || j.MaxCtl() != 10 {
		t.Errorf("after compaction: %d entries, seq %d, ctl %d; want 10, 110, 10", j.Len(), j.MaxSeq(), j.MaxCtl())
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if n := strings.Count(string(raw), "\n"); n != 10 {
		t.Errorf("the file holds %d lines after compaction; want 10", n)
	}
	if _, ok := j.Archived("old"); ok {
		t.Error("an entry past the window still dedups")
	}
}
