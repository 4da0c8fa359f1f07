package relaylog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// benchEvents is the number of events one benchmark iteration appends,
// whatever the batch shape: -benchtime=75x stores ~307k events.
const benchEvents = 4096

// eventFactory stamps unique ids into copies of one real ~1 KB event
// (building each with canonical.NewEvent would dominate the benchmark).
type eventFactory struct {
	base  []byte
	idOff int
	n     uint64
}

func newEventFactory(tb testing.TB) *eventFactory {
	base := newEvent(tb, "MEM1", "bench")
	id := idOf(tb, base)
	off := bytes.Index(base, []byte(id))
	if off < 0 || len(id) != 36 {
		tb.Fatalf("id %q not found in the event", id)
	}
	return &eventFactory{base: base, idOff: off}
}

// fill overwrites dst with n events with fresh ids; dst is reused.
func (f *eventFactory) fill(dst [][]byte, arena []byte) {
	for i := range dst {
		e := arena[i*len(f.base) : (i+1)*len(f.base) : (i+1)*len(f.base)]
		copy(e, f.base)
		f.n++
		// A canonical lowercase UUID: the form the id index stores in 16 bytes.
		copy(e[f.idOff:], fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(f.n>>48), f.n&(1<<48-1)))
		dst[i] = e
	}
}

type shape struct{ perBatch, batchesPerCall int }

func (s shape) String() string { return fmt.Sprintf("batch%d_x%d", s.perBatch, s.batchesPerCall) }

var benchShapes = []shape{{64, 16}, {256, 4}, {256, 16}}

// BenchmarkAppend measures Append with group commits of several batches
// of 1 KB events (each batch its own stream, like concurrent agents), and
// Badger's raw batched sync write of the same bytes for comparison:
// "badger-per-key" stores one key per event, "badger-per-batch" one value
// per batch (the block layout without id index, marks or time index).
func BenchmarkAppend(b *testing.B) {
	for _, s := range benchShapes {
		b.Run("relaylog/"+s.String(), func(b *testing.B) { benchAppend(b, s, false) })
	}
	b.Run("relaylog-no-id-index/"+benchShapes[1].String(), func(b *testing.B) { benchAppend(b, benchShapes[1], true) })
	for _, perKey := range []bool{true, false} {
		name := "badger-per-batch/"
		if perKey {
			name = "badger-per-key/"
		}
		for _, s := range benchShapes[1:] {
			b.Run(name+s.String(), func(b *testing.B) { benchBadgerRaw(b, s, perKey) })
		}
	}
}

func benchAppend(b *testing.B, s shape, noIDIndex bool) {
	freeMemory()
	l, err := Open(Options{Dir: b.TempDir(), Logger: discardLogger, RetentionInterval: -1, noIDIndex: noIDIndex})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	f := newEventFactory(b)
	perCall := s.perBatch * s.batchesPerCall
	events := make([][]byte, perCall)
	arena := make([]byte, perCall*len(f.base))
	next := make([]uint64, s.batchesPerCall)
	calls := make([]*Incoming, s.batchesPerCall)
	for i := range calls {
		calls[i] = &Incoming{Site: "MEM1"}
		next[i] = 1
	}
	b.SetBytes(int64(benchEvents * len(f.base)))
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for range b.N {
		for range benchEvents / perCall {
			b.StopTimer()
			f.fill(events, arena)
			for i, in := range calls {
				in.Header = headerOf("bench", uint32(i), next[i], next[i]+uint64(s.perBatch)-1)
				in.Events = events[i*s.perBatch : (i+1)*s.perBatch]
				in.Received = time.Now()
				next[i] += uint64(s.perBatch)
			}
			b.StartTimer()
			res, err := l.Append(calls)
			if err != nil {
				b.Fatal(err)
			}
			if res[0].Stored != s.perBatch {
				b.Fatalf("result %+v", res[0])
			}
		}
	}
	b.StopTimer()
	reportRates(b, start, l.Stats().DiskBytes)
}

func benchBadgerRaw(b *testing.B, s shape, perKey bool) {
	freeMemory()
	dir := b.TempDir()
	db, err := badger.Open(badgerOptions(dir, &badgerLogger{log: discardLogger}, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	f := newEventFactory(b)
	perCall := s.perBatch * s.batchesPerCall
	events := make([][]byte, perCall)
	arena := make([]byte, perCall*len(f.base))
	var block []byte
	seq := uint64(0)
	b.SetBytes(int64(benchEvents * len(f.base)))
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for range b.N {
		for range benchEvents / perCall {
			b.StopTimer()
			f.fill(events, arena)
			b.StartTimer()
			txn := db.NewTransaction(true)
			for i := 0; i < perCall; i += s.perBatch {
				if perKey {
					for _, e := range events[i : i+s.perBatch] {
						seq++
						if err := txn.Set(blockKey(seq), e); err != nil {
							b.Fatal(err)
						}
					}
					continue
				}
				block = block[:0]
				for _, e := range events[i : i+s.perBatch] {
					block = binary.AppendUvarint(block, uint64(len(e)))
					block = append(block, e...)
				}
				seq += uint64(s.perBatch)
				if err := txn.Set(blockKey(seq), bytes.Clone(block)); err != nil {
					b.Fatal(err)
				}
			}
			if err := txn.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	reportRates(b, start, diskBytes(dir))
}

func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// reportRates reports events/s (excluding the untimed event stamping), CPU
// per event (user+system of the whole process, Badger's background
// compaction included; stamping an event's id costs ~0.3 µs of it), memory
// (RSS split into anonymous and file-backed — Badger mmaps its value log —
// and the live Go heap after a GC) and disk figures.
func reportRates(b *testing.B, start time.Duration, disk int64) {
	events := float64(b.N * benchEvents)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/events, "cpu-µs/event")
	st := procStatus() // before the GC below: what the process holds while appending
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-heap-MB")
	b.ReportMetric(st["VmRSS"], "rss-MB")
	b.ReportMetric(st["RssAnon"], "anon-MB")
	b.ReportMetric(st["RssFile"], "file-MB")
	b.ReportMetric(st["VmHWM"], "peak-rss-MB")
	b.ReportMetric(float64(disk)/(1<<20), "disk-MB")
}

// cpuTime is the user+system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus reads the memory lines of /proc/self/status in MiB (empty off
// Linux).
func procStatus() map[string]float64 {
	out := map[string]float64{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasSuffix(v, "kB") {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 64)
		if err == nil {
			out[k] = n / 1024
		}
	}
	return out
}

// BenchmarkRead measures a sink-style sequential read of 1 KB events in
// pages of 1000 from a log of ~100k events.
func BenchmarkRead(b *testing.B) {
	l, err := Open(Options{Dir: b.TempDir(), Logger: discardLogger, RetentionInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	f := newEventFactory(b)
	events := make([][]byte, 1024)
	arena := make([]byte, 1024*len(f.base))
	for c := range 100 {
		f.fill(events, arena)
		var call []*Incoming
		for i := range 4 {
			first := uint64(c*256 + 1)
			call = append(call, &Incoming{Site: "MEM1", Header: headerOf("bench", uint32(i), first, first+255), Events: events[i*256 : (i+1)*256]})
		}
		if _, err := l.Append(call); err != nil {
			b.Fatal(err)
		}
	}
	last := l.LastSeq()
	var buf []Entry
	next := uint64(1)
	b.SetBytes(int64(1000 * len(f.base)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if next > last-1000 {
			next = 1
		}
		buf, err = l.Read(next, 1000, buf[:0])
		if err != nil || len(buf) != 1000 {
			b.Fatalf("read %d: %v", len(buf), err)
		}
		next += 1000
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
