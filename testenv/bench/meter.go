package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Reporter is the part of *testing.B a Meter reports to.
type Reporter interface {
	ReportMetric(n float64, unit string)
}

// Metric units every benchmark of the suite reports the same way, so the
// runner reads one name whatever the package.
const (
	// UnitCPU is CPU time (user + system) per event of this process and the
	// processes the meter watches, in microseconds.
	UnitCPU = "cpu-µs/event"
	// UnitRSS is the peak resident set (VmHWM) in MiB over the measured
	// part: this process since Start plus the watched processes' peaks.
	UnitRSS = "peak-rss-MiB"
)

// Meter measures the CPU time and peak memory of a benchmark: this process
// and, optionally, processes it started (a plugin, a server). Start resets
// this process's peak resident set (Linux ≥ 4.0, /proc/self/clear_refs), so
// sub-benchmarks of one binary do not inherit each other's peaks.
type Meter struct {
	self0 time.Duration
	pids  []int
	pid0  []time.Duration
}

// Start begins measuring this process and the processes pids.
func Start(pids ...int) *Meter {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5\n"), 0)
	m := &Meter{self0: SelfCPU(), pids: pids}
	for _, p := range pids {
		c, _ := ProcCPU(p)
		m.pid0 = append(m.pid0, c)
	}
	return m
}

// CPU is the CPU time used since Start by this process and the watched ones.
func (m *Meter) CPU() time.Duration {
	d := SelfCPU() - m.self0
	for i, p := range m.pids {
		if c, err := ProcCPU(p); err == nil {
			d += c - m.pid0[i]
		}
	}
	return d
}

// PeakRSS is this process's peak resident set since Start plus the watched
// processes' peaks, in bytes (0 where /proc is missing).
func (m *Meter) PeakRSS() int64 {
	total, _ := ProcPeakRSS(os.Getpid())
	for _, p := range m.pids {
		if v, err := ProcPeakRSS(p); err == nil {
			total += v
		}
	}
	return total
}

// Report reports UnitCPU for events units of work and UnitRSS.
func (m *Meter) Report(r Reporter, events int) {
	if events > 0 {
		r.ReportMetric(float64(m.CPU().Nanoseconds())/1e3/float64(events), UnitCPU)
	}
	if rss := m.PeakRSS(); rss > 0 {
		r.ReportMetric(float64(rss)/(1<<20), UnitRSS)
	}
}

// SelfCPU is this process's user + system CPU time so far.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcCPU is the user + system CPU time of a process, from /proc (clock
// ticks of 10 ms, the usual USER_HZ).
func ProcCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("proc %d: short stat line", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// ProcPeakRSS is a process's peak resident set (VmHWM) in bytes.
func ProcPeakRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("proc %d: no VmHWM", pid)
}
