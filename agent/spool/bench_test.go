package spool

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/draylink/dray/testenv/bench"
)

// Benchmarks. Rerun with
//
//	go test ./agent/spool -run '^$' -bench . -benchtime 3s -count 3
//
// Figures and the machine they were taken on are in docs/PERFORMANCE.md.

const (
	benchEventSize  = 1024
	benchBatch      = 256 // events per Commit
	benchCommitters = 4
)

// BenchmarkSpoolAppend measures Commit throughput: 4 concurrent sources
// commit 256 events of 1 KB each. One op is one Commit.
func BenchmarkSpoolAppend(b *testing.B) {
	s := openSpool(b, Options{Dir: b.TempDir(), RefreshInterval: time.Second})
	batches := make([][]Entry, benchCommitters)
	for i := range batches {
		batches[i] = entries(opLane, fmt.Sprintf("src%d", i), 0, benchBatch, benchEventSize)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	meter := bench.Start()
	b.ResetTimer()
	start := time.Now()
	for c := range benchCommitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := s.Commit(context.Background(), fmt.Sprintf("src%d", c), cursorOf(uint64(i)), batches[c]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(b.N*benchBatch)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(st.Appended)/float64(max(st.Commits, 1)), "events/txn")
	meter.Report(b, b.N*benchBatch)
}

// BenchmarkBadgerBatchedSyncWrite is Badger's own rate for comparison: 1,000
// keys of 1 KB (one key per event) per fsynced transaction, one writer, as
// LIBRARIES.md measured it. One op is one event.
func BenchmarkBadgerBatchedSyncWrite(b *testing.B) {
	db, err := badger.Open(badger.DefaultOptions(b.TempDir()).WithSyncWrites(true).WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, benchEventSize)
	const perTxn = 1000
	meter := bench.Start()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; {
		txn := db.NewTransaction(true)
		for j := 0; j < perTxn && i < b.N; j, i = j+1, i+1 {
			if err := txn.Set(fmt.Appendf(nil, "e%016x", i), val); err != nil {
				b.Fatal(err)
			}
		}
		if err := txn.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	meter.Report(b, b.N)
}

// BenchmarkDrain measures the uplink's side: Read up to 1024 events (1 MiB)
// and Ack them, over a backlog of b.N events of 1 KB committed beforehand.
// One op is one event.
func BenchmarkDrain(b *testing.B) {
	s := openSpool(b, Options{Dir: b.TempDir()})
	batch := entries(opLane, "src", 0, benchBatch, benchEventSize)
	for i := 0; i < b.N; i += benchBatch {
		n := min(benchBatch, b.N-i)
		if err := s.Commit(context.Background(), "src", cursorOf(uint64(i)), batch[:n]); err != nil {
			b.Fatal(err)
		}
	}
	id := opStream(1)
	var recs []Record
	b.ResetTimer()
	start := time.Now()
	for from, got := uint64(1), 0; got < b.N; {
		var err error
		recs, err = s.Read(id, from, 1024, 1<<20, recs[:0])
		if err != nil {
			b.Fatal(err)
		}
		last := recs[len(recs)-1].Seq
		if err := s.Ack(id, last); err != nil {
			b.Fatal(err)
		}
		got += len(recs)
		from = last + 1
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
