package refsink_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/refsink"
)

func TestLedgerQueryFiltersAndPages(t *testing.T) {
	clock := newFakeClock()
	s := newSink(t, refsink.KindERP, func(c *refsink.Config) { c.Now = clock.Now; c.RecordBodies = true })
	sites := []string{"MEM1", "ATL2", "MEM1"}
	for i := range 30 {
		if i == 20 {
			clock.Advance(time.Hour)
		}
		wantStatus(t, s.post("/erp/v1/goods-movements", fmt.Sprint("q", i), "application/json", gm(i), "Dray-Site", sites[i%3]), 201)
	}
	wantStatus(t, s.post("/erp/v1/goods-issues", "q0", "application/json", valid[1].body, "Dray-Site", "ATL2"), 201)

	ctx := context.Background()
	p, err := s.client.Ledger(ctx, refsink.LedgerQuery{Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 7 || p.Next != 7 || !p.More || p.Records[6].Seq != 7 {
		t.Fatalf("first page: %d records, next %d, more %v", len(p.Records), p.Next, p.More)
	}
	p, _ = s.client.Ledger(ctx, refsink.LedgerQuery{After: 28, Limit: 7})
	if len(p.Records) != 3 || p.More || p.Next != 31 {
		t.Fatalf("last page: %d records, next %d, more %v", len(p.Records), p.Next, p.More)
	}
	for _, tc := range []struct {
		name string
		q    refsink.LedgerQuery
		want int
	}{
		{"all, paged by the client", refsink.LedgerQuery{Limit: 4}, 31},
		{"site", refsink.LedgerQuery{Site: "ATL2"}, 11},
		{"resource", refsink.LedgerQuery{Resource: "goods-issues"}, 1},
		{"key across resources", refsink.LedgerQuery{Key: "q0"}, 2},
		{"since", refsink.LedgerQuery{Since: clock.Now()}, 11},
		{"outcome", refsink.LedgerQuery{Outcome: refsink.OutcomeDuplicate}, 0},
		{"site and resource, small pages", refsink.LedgerQuery{Site: "MEM1", Resource: "goods-movements", Limit: 3}, 20},
	} {
		recs := s.records(tc.q)
		if len(recs) != tc.want {
			t.Errorf("%s: %d records; want %d", tc.name, len(recs), tc.want)
		}
	}
	rec := s.records(refsink.LedgerQuery{Key: "q3"})[0]
	if string(rec.Body) != gm(3) {
		t.Errorf("recorded body %s; want %s", rec.Body, gm(3))
	}
	st := s.stats()
	if st.Sites["MEM1"].Applied != 20 || st.Sites["ATL2"].Applied != 11 || st.Resources["goods-issues"].Applied != 1 || st.LastSeq != 31 {
		t.Errorf("stats %+v", st)
	}
}

func TestLedgerSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := openSink(t, refsink.KindTMS, dir, nil)
	for i := range 10 {
		body := fmt.Sprintf(`{"code":"c%d","timestamp":"2025-03-14T15:48:00Z"}`, i)
		wantStatus(t, s.post("/tms/v1/shipments/S1/milestones", fmt.Sprint("m", i), "application/json", body), 201)
	}
	wantStatus(t, s.post("/tms/v1/tenders", "bad", "application/json", `{}`), 422)
	before := s.stats()
	first := s.post("/tms/v1/shipments/S1/milestones", "m0", "application/json", `{"code":"c0","timestamp":"2025-03-14T15:48:00Z"}`)
	s.close()

	s = openSink(t, refsink.KindTMS, dir, nil)
	after := s.stats()
	if after.Records != before.Records+1 || after.Applied != 10 || after.Rejected != 1 || after.Duplicates != 1 {
		t.Errorf("after restart %+v; before %+v", after, before)
	}
	// Keys are remembered: replayed with the original answer.
	again := s.post("/tms/v1/shipments/S1/milestones", "m0", "application/json", `{"code":"c0","timestamp":"2025-03-14T15:48:00Z"}`)
	if again.status != 201 || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay after restart: %d %s; want %s", again.status, again.body, first.body)
	}
	// Partition order continues where it stopped, and seqs stay gapless.
	wantStatus(t, s.post("/tms/v1/shipments/S1/milestones", "m10", "application/json", `{"code":"c10","timestamp":"2025-03-14T15:48:00Z"}`), 201)
	recs := s.records(refsink.LedgerQuery{Key: "m10"})
	if recs[0].PartitionSeq != 11 || recs[0].Seq != 14 {
		t.Errorf("after restart: partitionSeq %d seq %d; want 11 and 14", recs[0].PartitionSeq, recs[0].Seq)
	}
	// A data directory is one process's.
	if _, err := refsink.NewServer(refsink.Config{Kind: refsink.KindTMS, DataDir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second server on the same directory: %v", err)
	}
	s.close()
	// And one flavour's.
	if _, err := refsink.NewServer(refsink.Config{Kind: refsink.KindERP, DataDir: dir}); err == nil {
		t.Error("an ERP server opened a TMS ledger")
	}
}

func TestLedgerTornTailAndCorruption(t *testing.T) {
	dir := t.TempDir()
	s := openSink(t, refsink.KindERP, dir, nil)
	for i := range 3 {
		wantStatus(t, s.post("/erp/v1/goods-movements", fmt.Sprint("t", i), "application/json", gm(i)), 201)
	}
	s.close()
	path := filepath.Join(dir, "ledger.jsonl")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// A torn last line (a crash mid-write, never acknowledged) is cut off.
	if err := os.WriteFile(path, append(bytes.Clone(good), `{"seq":4,"time":"20`...), 0o644); err != nil {
		t.Fatal(err)
	}
	s = openSink(t, refsink.KindERP, dir, nil)
	if st := s.stats(); st.Records != 3 {
		t.Errorf("after a torn tail: %d records; want 3", st.Records)
	}
	wantStatus(t, s.post("/erp/v1/goods-movements", "t3", "application/json", gm(3)), 201)
	s.close()
	if b, _ := os.ReadFile(path); bytes.Count(b, []byte("\n")) != 4 || !json.Valid(lastLine(b)) {
		t.Errorf("ledger after truncation and one append:\n%s", b)
	}

	// A damaged line in the middle is refused, not skipped.
	lines := bytes.SplitAfter(good, []byte("\n"))
	lines[1] = []byte("{\"seq\":2,garbage}\n")
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := refsink.NewServer(refsink.Config{Kind: refsink.KindERP, DataDir: dir}); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt ledger: %v", err)
	}
	// So is a gap in the sequence.
	lines = bytes.SplitAfter(good, []byte("\n"))
	if err := os.WriteFile(path, bytes.Join([][]byte{lines[0], lines[2]}, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := refsink.NewServer(refsink.Config{Kind: refsink.KindERP, DataDir: dir}); err == nil || !strings.Contains(err.Error(), "seq 3 where 2") {
		t.Errorf("ledger with a gap: %v", err)
	}
}

func lastLine(b []byte) []byte {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		last = bytes.Clone(sc.Bytes())
	}
	return last
}

func TestEventIDReappliedUnderAnotherKey(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	wantStatus(t, s.post("/erp/v1/goods-movements", "k1", "application/json", gm(0), "Ce-Id", "ev-1"), 201)
	// The same event under a new key is applied (the sink cannot know), but
	// counted, so a test sees the duplicate the keys missed.
	wantStatus(t, s.post("/erp/v1/goods-movements", "k2", "application/json", gm(0), "Ce-Id", "ev-1"), 201)
	if st := s.stats(); st.Applied != 2 || st.DistinctEventIDs != 1 || st.EventIDReapplied != 1 {
		t.Errorf("stats %+v", st)
	}
	if recs := s.records(refsink.LedgerQuery{EventID: "ev-1"}); len(recs) != 2 {
		t.Errorf("%d records for the event; want 2", len(recs))
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	srv, err := refsink.NewServer(refsink.Config{Kind: refsink.KindERP, DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	for srv.Addr() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	s := &sink{t: t, url: "http://" + srv.Addr().String()}
	c := refsink.NewClient(s.url)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, s.post("/erp/v1/goods-movements", "r1", "application/json", gm(0)), 201)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close after Run: %v", err)
	}
	// The directory is free again and the record is there.
	s2 := openSink(t, refsink.KindERP, dir, nil)
	if st := s2.stats(); st.Applied != 1 {
		t.Errorf("after Run: %+v", st)
	}
}
