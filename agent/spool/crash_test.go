package spool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
)

// The kill -9 test runs the test binary again as a child that commits and
// acks in a loop and reports on stdout, before each Ack, the events it is
// about to acknowledge ("A src:idx ...") and, after each Commit returned,
// the range it committed ("C src first last"). The parent SIGKILLs it at a
// random moment, reopens the spool and checks that everything reported as
// committed is there exactly once, in order, with its cursor.
const crashChildEnv = "DRAY_SPOOL_CRASH_CHILD_DIR"

var crashSources = []struct {
	name string
	lane func(i uint64) canonical.Lane
}{
	{"op0", func(uint64) canonical.Lane { return opLane }},
	{"op1", func(uint64) canonical.Lane { return opLane }},
	{"bulk", func(uint64) canonical.Lane { return bulkLane }},
	{"mix", func(i uint64) canonical.Lane {
		if i%2 == 0 {
			return bulkLane
		}
		return opLane
	}},
}

func crashOptions(dir string, log *slog.Logger) Options {
	return Options{Dir: dir, RotateAfter: 150, Logger: log, RefreshInterval: 50 * time.Millisecond, ReclaimAfter: 1 << 20}
}

func TestIntegrationKill9(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	skipShort(t)
	dir := t.TempDir()
	v := newCrashVerifier()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	const rounds = 20
	for round := range rounds {
		lines, stderr := runAndKill(t, dir, time.Duration(150+rng.IntN(600))*time.Millisecond)
		commits, acks := v.ingest(t, lines)
		s, err := Open(crashOptions(dir, testLogger(t)))
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v\nchild stderr:\n%s", round, err, stderr)
		}
		v.verify(t, round, s)
		streams := len(s.Streams())
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d commits and %d acks reported, %d streams", round, commits, acks, streams)
		if t.Failed() {
			t.Fatalf("child stderr:\n%s", stderr)
		}
	}
	if v.maxReported() < 1000 {
		t.Errorf("the children reported only %d events: the test proved little", v.maxReported())
	}
}

// runAndKill starts a child on dir, SIGKILLs it after d and returns the
// complete lines it printed.
func runAndKill(t *testing.T, dir string, d time.Duration) ([]string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationKill9$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // a last line without its newline was cut by the kill
			}
			lines = append(lines, strings.TrimSuffix(line, "\n"))
		}
	}()
	time.Sleep(d)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done
	_ = cmd.Wait() // "signal: killed"
	return lines, stderr.String()
}

// crashChild commits and acks until killed.
func crashChild(dir string) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := Open(crashOptions(dir, log))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	s.SetLinkUp(true)
	var outMu sync.Mutex
	say := func(line string) {
		outMu.Lock()
		io.WriteString(os.Stdout, line+"\n")
		outMu.Unlock()
	}
	for k, src := range crashSources {
		go func() {
			cur, err := s.Cursor(src.name)
			if err != nil {
				fmt.Fprintln(os.Stderr, "child cursor:", err)
				os.Exit(3)
			}
			next := uint64(1)
			if cur != nil {
				next = binary.BigEndian.Uint64(cur) + 1
			}
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(k)))
			for {
				n := 1 + rng.IntN(64)
				es := make([]Entry, n)
				for j := range es {
					i := next + uint64(j)
					es[j] = Entry{Lane: src.lane(i), Event: event(src.name, i, 100+rng.IntN(1900))}
				}
				last := next + uint64(n) - 1
				if err := s.Commit(context.Background(), src.name, cursorOf(last), es); err != nil {
					fmt.Fprintln(os.Stderr, "child commit:", err)
					os.Exit(3)
				}
				say(fmt.Sprintf("C %s %d %d", src.name, next, last))
				next = last + 1
			}
		}()
	}
	// The acker: half of each stream's pending events, announced first.
	for {
		time.Sleep(5 * time.Millisecond)
		for _, st := range s.Streams() {
			if st.Pending() == 0 {
				continue
			}
			recs, err := s.Read(st.StreamID, st.Head, int(max(st.Pending()/2, 1)), 0, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, "child read:", err)
				os.Exit(3)
			}
			var b strings.Builder
			b.WriteString("A")
			for _, r := range recs {
				src, i, _ := parseEvent(r.Event)
				fmt.Fprintf(&b, " %s:%d", src, i)
			}
			say(b.String())
			if err := s.Ack(st.StreamID, recs[len(recs)-1].Seq); err != nil {
				fmt.Fprintln(os.Stderr, "child ack:", err)
				os.Exit(3)
			}
		}
	}
}

// crashVerifier accumulates what the children reported across rounds.
type crashVerifier struct {
	reported  map[string]uint64          // highest index reported committed
	announced map[string]map[uint64]bool // indices announced for Ack
	gone      map[string]map[uint64]bool // indices known acknowledged
}

func newCrashVerifier() *crashVerifier {
	v := &crashVerifier{reported: map[string]uint64{}, announced: map[string]map[uint64]bool{}, gone: map[string]map[uint64]bool{}}
	for _, src := range crashSources {
		v.announced[src.name] = map[uint64]bool{}
		v.gone[src.name] = map[uint64]bool{}
	}
	return v
}

func (v *crashVerifier) maxReported() uint64 {
	var n uint64
	for _, r := range v.reported {
		n += r
	}
	return n
}

func (v *crashVerifier) ingest(t *testing.T, lines []string) (commits, acks int) {
	t.Helper()
	for _, line := range lines {
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[0] == "C":
			last, err := strconv.ParseUint(f[3], 10, 64)
			if err != nil {
				t.Fatalf("bad line %q", line)
			}
			v.reported[f[1]] = max(v.reported[f[1]], last)
			commits++
		case len(f) > 1 && f[0] == "A":
			for _, ev := range f[1:] {
				src, idx, _ := strings.Cut(ev, ":")
				i, err := strconv.ParseUint(idx, 10, 64)
				if err != nil || v.announced[src] == nil {
					t.Fatalf("bad line %q", line)
				}
				v.announced[src][i] = true
			}
			acks++
		}
	}
	return commits, acks
}

func (v *crashVerifier) verify(t *testing.T, round int, s *Spool) {
	t.Helper()
	present := map[string]map[uint64]bool{}
	for _, src := range crashSources {
		present[src.name] = map[uint64]bool{}
	}
	prev := map[string]uint64{} // source/lane -> last index, across the streams of the lane
	for _, st := range s.Streams() {
		for k, r := range readAll(t, s, st.StreamID) {
			if r.Seq != st.Head+uint64(k) {
				t.Fatalf("round %d: stream %v record %d has seq %d; want %d", round, st.StreamID, k, r.Seq, st.Head+uint64(k))
			}
			src, i, err := parseEvent(r.Event)
			if err != nil || present[src] == nil {
				t.Fatalf("round %d: stream %v seq %d: bad event (%v)", round, st.StreamID, r.Seq, err)
			}
			if present[src][i] {
				t.Errorf("round %d: event %s:%d stored twice", round, src, i)
			}
			present[src][i] = true
			key := src + "/" + st.Lane.String()
			if p, ok := prev[key]; ok && i <= p {
				t.Errorf("round %d: event %s:%d after %d in lane %v", round, src, i, p, st.Lane)
			}
			prev[key] = i
		}
	}
	for _, src := range crashSources {
		name := src.name
		cur, err := s.Cursor(name)
		if err != nil {
			t.Fatal(err)
		}
		var k uint64
		if cur != nil {
			k = binary.BigEndian.Uint64(cur)
		}
		if r := v.reported[name]; r > k {
			t.Errorf("round %d: %s: commit through %d was reported but the cursor is %d", round, name, r, k)
		}
		for i := range present[name] {
			if i > k {
				t.Errorf("round %d: %s: event %d stored beyond cursor %d", round, name, i, k)
			}
			if v.gone[name][i] {
				t.Errorf("round %d: %s: acknowledged event %d is back", round, name, i)
			}
		}
		for i := uint64(1); i <= k; i++ {
			if !present[name][i] && !v.announced[name][i] {
				t.Errorf("round %d: %s: event %d lost (cursor %d)", round, name, i, k)
			}
		}
		for i := range v.announced[name] {
			if !present[name][i] {
				v.gone[name][i] = true
			}
		}
	}
}
