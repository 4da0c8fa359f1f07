package spool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func rejects(source string, first, n int) []QuarantineRecord {
	out := make([]QuarantineRecord, n)
	for i := range out {
		k := first + i
		out[i] = QuarantineRecord{
			Code:    "json_syntax",
			Reason:  fmt.Sprintf("line %d: unexpected end of line", k),
			Ref:     fmt.Sprintf("%s.jsonl:%d", source, k),
			Payload: []byte(fmt.Sprintf(`{"count_id":%d`, k)),
		}
	}
	return out
}

func commitBatch(t testing.TB, s *Spool, source string, cursor uint64, es []Entry, q []QuarantineRecord) {
	t.Helper()
	if err := s.CommitBatch(context.Background(), source, cursorOf(cursor), es, q); err != nil {
		t.Fatalf("CommitBatch(%s): %v", source, err)
	}
}

func listAll(t testing.TB, s *Spool, f QuarantineFilter) []QuarantineRecord {
	t.Helper()
	var out []QuarantineRecord
	for {
		page, err := s.ListQuarantine(f)
		if err != nil {
			t.Fatalf("ListQuarantine(%+v): %v", f, err)
		}
		out = append(out, page...)
		if len(page) < max(f.Limit, 1) || f.Limit == 0 {
			return out
		}
		f.After = page[len(page)-1].ID
	}
}

func TestCommitBatchQuarantines(t *testing.T) {
	now := time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
	s := openSpool(t, Options{Now: func() time.Time { return now }})
	commitBatch(t, s, "counts", 3, entries(opLane, "counts", 1, 3, 200), rejects("counts", 1, 2))
	commitBatch(t, s, "orders", 1, nil, []QuarantineRecord{{Code: "invalid_event", Origin: OriginAgent, Ref: "event/x", Payload: []byte("{}")}})

	if cur, _ := s.Cursor("counts"); binary.BigEndian.Uint64(cur) != 3 {
		t.Errorf("cursor %x; want 3", cur)
	}
	if got := len(readAll(t, s, opStream(1))); got != 3 {
		t.Errorf("%d events in the spool; want 3", got)
	}
	all := listAll(t, s, QuarantineFilter{})
	if len(all) != 3 {
		t.Fatalf("%d records; want 3: %+v", len(all), all)
	}
	r := all[0]
	if r.Source != "counts" || r.Origin != OriginConnector || r.Code != "json_syntax" || r.Ref != "counts.jsonl:1" ||
		string(r.Payload) != `{"count_id":1` || !r.FirstSeen.Equal(now) || !r.LastSeen.Equal(now) || r.Attempts != 0 || len(r.ID) != 24 {
		t.Errorf("record %+v", r)
	}
	if all[2].Source != "orders" || all[2].Origin != OriginAgent {
		t.Errorf("record %+v", all[2])
	}
	got, err := s.Quarantined(all[1].ID)
	if err != nil || got.Ref != "counts.jsonl:2" {
		t.Errorf("Quarantined(%s) = %+v, %v", all[1].ID, got, err)
	}
	if c := s.QuarantineCounts(); c["counts"] != 2 || c["orders"] != 1 || len(c) != 2 {
		t.Errorf("counts %v", c)
	}

	// Filters and pages.
	if got := listAll(t, s, QuarantineFilter{Source: "orders"}); len(got) != 1 || got[0].Source != "orders" {
		t.Errorf("source filter: %+v", got)
	}
	if got := listAll(t, s, QuarantineFilter{Code: "invalid_event"}); len(got) != 1 {
		t.Errorf("code filter: %+v", got)
	}
	if got := listAll(t, s, QuarantineFilter{Limit: 1}); len(got) != 3 || got[2].ID != all[2].ID {
		t.Errorf("paged by 1: %+v", got)
	}
	if got, _ := s.ListQuarantine(QuarantineFilter{After: all[0].ID}); len(got) != 2 || got[0].ID != all[1].ID {
		t.Errorf("after %s: %+v", all[0].ID, got)
	}
	for _, bad := range []string{"", "xyz", "00", strings.Repeat("0", 24)} {
		if _, err := s.Quarantined(bad); !errors.Is(err, ErrNotQuarantined) {
			t.Errorf("Quarantined(%q): %v; want ErrNotQuarantined", bad, err)
		}
	}
	if err := s.CommitBatch(context.Background(), "counts", cursorOf(4), nil, []QuarantineRecord{{Ref: "no code"}}); err == nil {
		t.Error("a record without a code was accepted")
	}

	// Everything survives a restart, and new chunks sort after old ones even
	// when the clock went back.
	s = reopen(t, s)
	now = now.Add(-time.Hour)
	commitBatch(t, s, "counts", 4, nil, rejects("counts", 9, 1))
	after := listAll(t, s, QuarantineFilter{})
	if len(after) != 4 || after[3].Ref != "counts.jsonl:9" || after[0].ID != all[0].ID {
		t.Errorf("after reopen: %+v", after)
	}
	if c := s.QuarantineCounts(); c["counts"] != 3 {
		t.Errorf("counts after reopen %v", c)
	}
}

func TestResolveAndFailQuarantine(t *testing.T) {
	now := time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
	s := openSpool(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	commitBatch(t, s, "counts", 7, nil, rejects("counts", 1, 3))
	recs := listAll(t, s, QuarantineFilter{})

	now = now.Add(time.Minute)
	upd, err := s.FailQuarantineRetry(ctx, recs[0].ID, RetryFailure{Code: "bad_time", Reason: "counted_at has no offset", Err: "rejected again"})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Attempts != 1 || upd.Code != "bad_time" || upd.Reason != "counted_at has no offset" || upd.LastError != "rejected again" ||
		!upd.LastAttempt.Equal(now) || !upd.LastSeen.Equal(now) || !upd.FirstSeen.Equal(now.Add(-time.Minute)) {
		t.Errorf("after a failed retry: %+v", upd)
	}
	upd, err = s.FailQuarantineRetry(ctx, recs[0].ID, RetryFailure{Err: "connector crashed"})
	if err != nil || upd.Attempts != 2 || upd.Code != "bad_time" || upd.LastError != "connector crashed" {
		t.Errorf("after a second failed retry: %+v, %v", upd, err)
	}
	if got, _ := s.Quarantined(recs[0].ID); got.Attempts != 2 {
		t.Errorf("stored record %+v", got)
	}

	// A resolve appends the events and removes the record; no cursor moves.
	if err := s.ResolveQuarantine(ctx, recs[1].ID, entries(bulkLane, "counts", 100, 2, 300)); err != nil {
		t.Fatal(err)
	}
	if got := len(readAll(t, s, bulkStream(1))); got != 2 {
		t.Errorf("%d events after resolve; want 2", got)
	}
	if cur, _ := s.Cursor("counts"); binary.BigEndian.Uint64(cur) != 7 {
		t.Errorf("cursor %x moved", cur)
	}
	if _, err := s.Quarantined(recs[1].ID); !errors.Is(err, ErrNotQuarantined) {
		t.Errorf("resolved record: %v", err)
	}
	if err := s.ResolveQuarantine(ctx, recs[1].ID, entries(bulkLane, "counts", 100, 2, 300)); !errors.Is(err, ErrNotQuarantined) {
		t.Errorf("second resolve: %v; want ErrNotQuarantined", err)
	}
	if got := len(readAll(t, s, bulkStream(1))); got != 2 {
		t.Errorf("a refused resolve appended events: %d", got)
	}
	if _, err := s.FailQuarantineRetry(ctx, recs[1].ID, RetryFailure{Err: "x"}); !errors.Is(err, ErrNotQuarantined) {
		t.Errorf("failing a resolved record: %v", err)
	}
	if c := s.QuarantineCounts(); c["counts"] != 2 {
		t.Errorf("counts %v", c)
	}

	// Concurrent resolves of one record: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 4 {
		wg.Go(func() {
			if err := s.ResolveQuarantine(ctx, recs[2].ID, entries(opLane, "counts", 200, 1, 300)); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, ErrNotQuarantined) {
				t.Errorf("concurrent resolve: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || len(readAll(t, s, opStream(1))) != 1 {
		t.Errorf("%d concurrent resolves won, %d events appended; want 1 and 1", wins, len(readAll(t, s, opStream(1))))
	}

	// The chunk goes with its last record, patches included.
	if err := s.ResolveQuarantine(ctx, recs[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	if c := s.QuarantineCounts(); len(c) != 0 {
		t.Errorf("counts %v; want none", c)
	}
	if n := countKeys(t, s, prefixQuarantine) + countKeys(t, s, prefixPatch) + countKeys(t, s, prefixQuarantineCount); n != 0 {
		t.Errorf("%d quarantine keys left after every record was resolved", n)
	}
	s = reopen(t, s)
	if c := s.QuarantineCounts(); len(c) != 0 {
		t.Errorf("counts after reopen %v", c)
	}
}

func countKeys(t *testing.T, s *Spool, prefix byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefix}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A whole file of bad lines in one batch is one commit, however many
// records: records are stored in chunks, not one key each.
func TestQuarantineManyRecordsInOneCommit(t *testing.T) {
	s := openSpool(t, Options{})
	const n = 30000
	commitBatch(t, s, "counts", 1, entries(opLane, "counts", 1, 10, 200), rejects("counts", 0, n))
	all := listAll(t, s, QuarantineFilter{Limit: MaxQuarantineLimit})
	if len(all) != n {
		t.Fatalf("%d records listed; want %d", len(all), n)
	}
	for i, r := range all {
		if r.Ref != "counts.jsonl:"+strconv.Itoa(i) {
			t.Fatalf("record %d is %q", i, r.Ref)
		}
	}
	if chunks := countKeys(t, s, prefixQuarantine); chunks < 2 || chunks > 30 {
		t.Errorf("%d chunks for %d small records", chunks, n)
	}
	big := []QuarantineRecord{{Code: "line_too_long", Payload: make([]byte, 13<<20)}}
	if err := s.CommitBatch(context.Background(), "counts", cursorOf(2), nil, big); !errors.Is(err, ErrCommitTooLarge) {
		t.Errorf("13 MiB of rejects: %v; want ErrCommitTooLarge", err)
	}
	if cur, _ := s.Cursor("counts"); binary.BigEndian.Uint64(cur) != 1 {
		t.Errorf("a refused commit moved the cursor to %x", cur)
	}
}

func TestDecodeChunkRefusesDamage(t *testing.T) {
	good := encodeChunk("counts", time.Unix(5, 0), rejects("counts", 0, 3))
	if c, err := decodeChunk(good); err != nil || len(c.recs) != 3 || c.source != "counts" {
		t.Fatalf("decode: %+v, %v", c, err)
	}
	for cut := range len(good) {
		if _, err := decodeChunk(good[:cut]); err == nil {
			t.Fatalf("a chunk cut at %d of %d bytes decoded", cut, len(good))
		}
	}
	if _, err := decodeChunk(append(bytes.Clone(good), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
}

// The kill -9 test of the quarantine: a child commits batches of events and
// rejects with their cursor and reports each commit; after SIGKILL, the
// reopened spool must hold, for every source, exactly the rejects of the
// batches up to its cursor: none lost, none without its cursor.
const quarantineChildEnv = "DRAY_SPOOL_QUARANTINE_CHILD_DIR"

func TestIntegrationQuarantineKill9(t *testing.T) {
	if dir := os.Getenv(quarantineChildEnv); dir != "" {
		quarantineChild(dir)
		return
	}
	skipShort(t)
	dir := t.TempDir()
	reported := map[string]uint64{}
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationQuarantineKill9$")
		cmd.Env = append(os.Environ(), quarantineChildEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				var src string
				var last uint64
				if _, err := fmt.Sscanf(sc.Text(), "C %s %d", &src, &last); err == nil {
					reported[src] = last
				}
			}
		}()
		time.Sleep(time.Duration(200+round*60) * time.Millisecond)
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()

		s, err := Open(Options{Dir: dir, Logger: testLogger(t)})
		if err != nil {
			t.Fatalf("round %d: reopen: %v\n%s", round, err, stderr.String())
		}
		counts := s.QuarantineCounts()
		for _, src := range []string{"a", "b"} {
			cur, err := s.Cursor(src)
			if err != nil {
				t.Fatal(err)
			}
			var last uint64
			if cur != nil {
				last = binary.BigEndian.Uint64(cur)
			}
			if last < reported[src] {
				t.Errorf("round %d: %s: cursor %d behind the reported commit %d", round, src, last, reported[src])
			}
			// Batch i (1-based) committed events 10(i-1)+1..10i and the
			// rejects numbered i*1000+0..2; the cursor is 10i.
			recs := listAll(t, s, QuarantineFilter{Source: src, Limit: MaxQuarantineLimit})
			if want := 3 * last / 10; uint64(len(recs)) != want || uint64(counts[src]) != want {
				t.Errorf("round %d: %s: cursor %d, %d records (count %d); want %d", round, src, last, len(recs), counts[src], want)
			}
			for k, r := range recs {
				if want := fmt.Sprintf("%s.jsonl:%d", src, (k/3+1)*1000+k%3); r.Ref != want {
					t.Errorf("round %d: %s: record %d is %s; want %s", round, src, k, r.Ref, want)
					break
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			t.Fatalf("child stderr:\n%s", stderr.String())
		}
	}
	if reported["a"] < 100 {
		t.Errorf("the children committed only %d events of a: the test proved little", reported["a"])
	}
}

func quarantineChild(dir string) {
	s, err := Open(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	for _, src := range []string{"a", "b"} {
		go func() {
			cur, err := s.Cursor(src)
			if err != nil {
				os.Exit(3)
			}
			var last uint64
			if cur != nil {
				last = binary.BigEndian.Uint64(cur)
			}
			for {
				batch := last/10 + 1
				rej := rejects(src, int(batch)*1000, 3)
				es := entries(opLane, src, last+1, 10, 300)
				if err := s.CommitBatch(context.Background(), src, cursorOf(last+10), es, rej); err != nil {
					fmt.Fprintln(os.Stderr, "child commit:", err)
					os.Exit(3)
				}
				last += 10
				mu.Lock()
				fmt.Printf("C %s %d\n", src, last)
				mu.Unlock()
			}
		}()
	}
	select {}
}
