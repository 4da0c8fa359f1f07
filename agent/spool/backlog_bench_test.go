package spool

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkBacklogMillion measures the outage scenario of the memory and
// restart targets: 1,000,000 events of 1 KB are committed (the outage), then
// drained with Read+Ack while a live source keeps committing. "restart"
// fills in one process and drains in a fresh one (an agent restarted during
// the outage: open time, cold page cache when root may drop it);
// "same-process" fills and drains in one process, whose memory maps then
// still hold the pages it wrote. Each reports the draining process's peak
// RSS, split into anonymous memory (Go heap and Badger's tables) and mapped
// files (Badger's value log and tables: page cache the kernel can reclaim).
// Run it alone:
//
//	go test ./agent/spool -run '^$' -bench BacklogMillion -benchtime 1x
//
// Each case writes about 1.1 GB to the temporary directory.
func BenchmarkBacklogMillion(b *testing.B) {
	for _, mode := range []string{"restart", "same-process"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				dir := b.TempDir()
				var fill, res drainResult
				cold := false
				if mode == "restart" {
					fill = runBacklogChild(b, dir, "fill")
					cold = dropPageCache()
					res = runBacklogChild(b, dir, "drain")
				} else {
					res = runBacklogChild(b, dir, "fill+drain")
					fill = res
				}
				if res.Drained != backlogEvents {
					b.Fatalf("the child drained %d events; want %d", res.Drained, backlogEvents)
				}
				b.ReportMetric(fill.FillRate, "fill-events/s")
				b.ReportMetric(res.DrainRate, "drain-events/s")
				b.ReportMetric(float64(res.PeakRSS>>20), "peak-rss-MiB")
				b.ReportMetric(float64(res.PeakAnon>>20), "peak-anon-MiB")
				b.ReportMetric(float64(res.PeakFile>>20), "peak-file-MiB")
				b.ReportMetric(float64(res.PeakHeap>>20), "peak-heap-MiB")
				b.ReportMetric(float64(res.DiskBefore>>20), "disk-full-MiB")
				b.ReportMetric(float64(res.DiskAfter>>20), "disk-drained-MiB")
				if mode == "restart" {
					b.ReportMetric(res.OpenSeconds, "open-s")
					b.ReportMetric(res.FirstReadSeconds, "first-read-s")
				}
				b.Logf("page cache dropped before reopen: %v; fill %+v; drain %+v", cold, fill, res)
			}
		})
	}
}

const backlogEvents = 1_000_000

// fillBacklog commits events of 1 KB from 4 sources, 256 per commit, and
// returns the rate.
func fillBacklog(t testing.TB, s *Spool, events int) float64 {
	start := time.Now()
	var wg sync.WaitGroup
	per := events / benchCommitters
	for c := range benchCommitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := fmt.Sprintf("src%d", c)
			for i := 0; i < per; i += benchBatch {
				n := min(benchBatch, per-i)
				if err := s.Commit(context.Background(), src, cursorOf(uint64(i+n)), entries(opLane, src, uint64(i+1), n, benchEventSize)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(events) / time.Since(start).Seconds()
}

// dropPageCache asks the kernel to forget cached file pages, so the reopen
// reads from disk; it needs root and a writable /proc/sys.
func dropPageCache() bool {
	exec.Command("sync").Run()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0) == nil
}

const (
	backlogChildDir  = "DRAY_SPOOL_BACKLOG_CHILD_DIR"
	backlogChildMode = "DRAY_SPOOL_BACKLOG_CHILD_MODE"
)

type drainResult struct {
	FillRate         float64 // events/s
	OpenSeconds      float64 // Open
	FirstReadSeconds float64 // Open plus the first Read of the backlog
	Drained          int
	DrainRate        float64 // events/s
	Live             int     // live events committed during the drain
	PeakRSS          int64   // VmRSS
	PeakAnon         int64   // RssAnon: Go heap and Badger's allocations
	PeakFile         int64   // RssFile: mapped Badger files (reclaimable page cache)
	PeakHeap         int64   // Go HeapInuse
	DiskBefore       int64
	DiskAfter        int64 // after the drain and a reclaim
}

func runBacklogChild(b *testing.B, dir, mode string) drainResult {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBacklogChild$")
	cmd.Env = append(os.Environ(), backlogChildDir+"="+dir, backlogChildMode+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("backlog child: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			var r drainResult
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				b.Fatal(err)
			}
			return r
		}
	}
	b.Fatalf("backlog child printed no result:\n%s", out)
	return drainResult{}
}

// TestBacklogChild is the child process of BenchmarkBacklogMillion.
func TestBacklogChild(t *testing.T) {
	dir, mode := os.Getenv(backlogChildDir), os.Getenv(backlogChildMode)
	if dir == "" {
		t.Skip("helper process of BenchmarkBacklogMillion")
	}
	var r drainResult
	var peak peakMemory
	stop := peak.sample(50 * time.Millisecond)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	start := time.Now()
	s, err := Open(Options{Dir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	r.OpenSeconds = time.Since(start).Seconds()
	if strings.HasPrefix(mode, "fill") {
		r.FillRate = fillBacklog(t, s, backlogEvents)
		peak.reset()
	}
	r.DiskBefore = dirSize(t, dir)
	if strings.HasSuffix(mode, "drain") {
		drainBacklog(t, s, &r, start)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stop()
	r.PeakRSS, r.PeakAnon, r.PeakFile, r.PeakHeap = peak.rss, peak.anon, peak.file, peak.heap
	j, _ := json.Marshal(r)
	fmt.Println("RESULT " + string(j))
}

// drainBacklog reads and acks every pending event while a live source
// commits about 1,000 events/s, then waits for the space to come back.
func drainBacklog(t *testing.T, s *Spool, r *drainResult, opened time.Time) {
	streams := s.Streams()
	recs, err := s.Read(streams[0].StreamID, streams[0].Head, 1024, 1<<20, nil)
	if err != nil || len(recs) == 0 {
		t.Fatalf("first read: %d events, %v", len(recs), err)
	}
	r.FirstReadSeconds = time.Since(opened).Seconds()

	s.SetLinkUp(true)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); ctx.Err() == nil; i += 10 {
			if err := s.Commit(ctx, "live", cursorOf(i+9), entries(opLane, "live", i, 10, benchEventSize)); err != nil {
				return
			}
			r.Live += 10
			time.Sleep(10 * time.Millisecond)
		}
	}()
	drainStart := time.Now()
	for _, st := range streams {
		for from := st.Head; from < st.Next; {
			recs, err = s.Read(st.StreamID, from, 1024, 1<<20, recs[:0])
			if err != nil {
				t.Fatal(err)
			}
			last := recs[len(recs)-1].Seq
			if err := s.Ack(st.StreamID, last); err != nil {
				t.Fatal(err)
			}
			r.Drained += len(recs)
			from = last + 1
		}
	}
	r.DrainRate = float64(r.Drained) / time.Since(drainStart).Seconds()
	cancel()
	wg.Wait()
	drain(t, s) // the live events
	// The maintenance goroutine reclaims a drained spool on its next pass.
	waitFor(t, time.Minute, "the drained spool to shrink", func() bool { return dirSize(t, s.opts.Dir) < 32<<20 })
	r.DiskAfter = dirSize(t, s.opts.Dir)
}

// peakMemory samples the process's memory.
type peakMemory struct {
	mu                    sync.Mutex
	rss, anon, file, heap int64
}

func (p *peakMemory) sample(every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			p.once()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait(); p.once() }
}

func (p *peakMemory) reset() {
	p.mu.Lock()
	p.rss, p.anon, p.file, p.heap = 0, 0, 0, 0
	p.mu.Unlock()
}

func (p *peakMemory) once() {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		n <<= 10
		switch k {
		case "VmRSS":
			p.rss = max(p.rss, n)
		case "RssAnon":
			p.anon = max(p.anon, n)
		case "RssFile":
			p.file = max(p.file, n)
		}
	}
	p.heap = max(p.heap, int64(ms.HeapInuse))
}
