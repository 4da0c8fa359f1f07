package stack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/testenv/refsink"
)

// Status fetches the agent's /status.
func (site *Site) Status(ctx context.Context) (*agent.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+site.StatusAddr+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent %s status: HTTP %d", site.ID, resp.StatusCode)
	}
	var st agent.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("agent %s status: %w", site.ID, err)
	}
	return &st, nil
}

// Progress is one look at every part of the stack, from the processes'
// own endpoints: the simulators' ground truth files (generated), the
// agents' /status (spooled, sent, quarantined), the relay's admin API
// (relayed, delivered, lag, dead letters) and the sinks' ledgers
// (applied). A part that does not answer leaves its fields zero and adds
// to Errors.
type Progress struct {
	At    time.Time
	Sites []SiteProgress
	// Relayed is the relay log's last sequence: events stored by the relay.
	Relayed uint64
	Sinks   []SinkProgress
	Errors  []string
}

// SiteProgress is one site's part of Progress.
type SiteProgress struct {
	ID string
	// Generated and Bad count the facts and bad inputs in the ground
	// truth so far.
	Generated, Bad int64
	// Read counts the events the connectors committed to the spool and
	// Quarantined the records they refused, since the agent started.
	Read, Quarantined uint64
	// Spooled and Acked count events appended to the spool and
	// acknowledged by the relay since the agent started; Pending are in the
	// spool, not yet acknowledged.
	Spooled, Acked, Pending uint64
	// Connected and Transport describe the link to the relay.
	Connected bool
	Transport string
	// Connectors are the plugins' states ("running", …) by name.
	Connectors map[string]string
	// Restarts counts plugin restarts after failures.
	Restarts int
	// Paused is why the spool stopped intake ("" when it did not).
	Paused string
}

// SinkProgress is one sink's part of Progress.
type SinkProgress struct {
	Name string
	// From the relay: delivered (2xx), retried attempts, dead letters,
	// lag (relay log events not finished for this sink) and the p99 delay
	// from the relay receiving an event to the sink taking it.
	Delivered, Retries, Lag uint64
	// FactSkips counts events not sent because another event of the same
	// fact (its idempotency key: the same fact read from another source)
	// was delivered.
	FactSkips   uint64
	DeadLetters int
	DelayP99    time.Duration
	// From the sink's ledger: applied, replays of an applied request
	// (duplicates absorbed by its idempotency) and rejected requests.
	Applied, Replayed, Rejected uint64
}

// Done reports whether nothing is in flight anywhere: every agent's spool
// is empty and connected parts agree, the relay has no lag for any sink.
func (p *Progress) Done() bool {
	if len(p.Errors) > 0 {
		return false
	}
	for _, s := range p.Sites {
		if s.Pending > 0 {
			return false
		}
	}
	for _, k := range p.Sinks {
		if k.Lag > 0 {
			return false
		}
	}
	return true
}

// Progress looks at every part of the stack (see Progress).
func (s *Stack) Progress(ctx context.Context) Progress {
	p := Progress{At: time.Now()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	fail := func(format string, args ...any) {
		mu.Lock()
		p.Errors = append(p.Errors, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	p.Sites = make([]SiteProgress, len(s.Sites))
	for i, site := range s.Sites {
		wg.Go(func() {
			sp := &p.Sites[i]
			sp.ID = site.ID
			facts, bad, err := site.truth.count()
			if err != nil {
				fail("%s ground truth: %v", site.ID, err)
			}
			sp.Generated, sp.Bad = facts, bad
			st, err := site.Status(ctx)
			if err != nil {
				fail("agent %s: %v", site.ID, err)
				return
			}
			sp.Spooled, sp.Acked = st.Spool.Appended, st.Spool.Acked
			for _, str := range st.Spool.Streams {
				sp.Pending += str.Next - str.Head
			}
			sp.Paused = string(st.Spool.Paused)
			sp.Connected, sp.Transport = st.Uplink.Connected, st.Uplink.Transport
			sp.Connectors = map[string]string{}
			for _, c := range st.Connectors {
				sp.Read += c.Events
				sp.Quarantined += c.Quarantined
				sp.Restarts += c.Restarts
				sp.Connectors[c.Name] = string(c.State)
			}
		})
	}
	sinks := make(map[string]*SinkProgress)
	for _, k := range []*Sink{s.ERP, s.TMS} {
		sp := &SinkProgress{Name: k.Name}
		sinks[k.Name] = sp
		p.Sinks = append(p.Sinks, SinkProgress{})
		wg.Go(func() {
			st, err := k.Client.Stats(ctx)
			if err != nil {
				fail("%s ledger: %v", k.Name, err)
				return
			}
			sp.Applied, sp.Replayed, sp.Rejected = st.Applied, st.Duplicates, st.Rejected+st.Conflicts
		})
	}
	wg.Go(func() {
		list, err := s.Relay.Admin.Sinks(ctx)
		if err != nil {
			fail("relay admin API: %v", err)
			return
		}
		for _, l := range list {
			var st struct {
				Delivery dispatch.Stats `json:"delivery"`
			}
			if err := json.Unmarshal(l.Status, &st); err != nil {
				fail("relay sink %s status: %v", l.Name, err)
				continue
			}
			mu.Lock()
			if sp := sinks[l.Name]; sp != nil {
				sp.Delivered, sp.Retries, sp.Lag = st.Delivery.Delivered, st.Delivery.Retries, st.Delivery.Lag
				sp.DeadLetters, sp.DelayP99 = l.DeadLetters, st.Delivery.DelayP99
				sp.FactSkips = st.Delivery.FactDuplicates + st.Delivery.FactConflicts
			}
			p.Relayed = max(p.Relayed, st.Delivery.LastSeq)
			mu.Unlock()
		}
	})
	wg.Wait()
	for i, k := range []*Sink{s.ERP, s.TMS} {
		p.Sinks[i] = *sinks[k.Name]
	}
	return p
}

// truthCounter counts the fact and bad lines of a ground truth file as
// it grows, reading only what was appended since the last count.
type truthCounter struct {
	mu        sync.Mutex
	path      string
	off       int64
	facts     int64
	bad       int64
	remainder []byte
}

func (c *truthCounter) count() (facts, bad int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.Open(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return c.facts, c.bad, err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(c.off, io.SeekStart); err != nil {
		return c.facts, c.bad, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		c.off += int64(len(line))
		if len(c.remainder) > 0 {
			line = append(c.remainder, line...)
			c.remainder = nil
		}
		if err != nil {
			// A line still being written: keep it for the next count.
			c.remainder = append([]byte(nil), line...)
			if errors.Is(err, io.EOF) {
				return c.facts, c.bad, nil
			}
			return c.facts, c.bad, err
		}
		switch {
		case bytes.HasPrefix(line, []byte(`{"rec":"fact"`)):
			c.facts++
		case bytes.HasPrefix(line, []byte(`{"rec":"bad"`)):
			c.bad++
		}
	}
}

// Format renders a progress look as a few lines for a terminal; prev (may
// be nil) gives the rates.
func (p *Progress) Format(prev *Progress) string {
	var b strings.Builder
	rate := func(now, before uint64) string {
		if prev == nil {
			return ""
		}
		dt := p.At.Sub(prev.At).Seconds()
		if dt <= 0 || now < before {
			return ""
		}
		return fmt.Sprintf(" (%.0f/s)", float64(now-before)/dt)
	}
	for i, s := range p.Sites {
		var ps SiteProgress
		if prev != nil && i < len(prev.Sites) {
			ps = prev.Sites[i]
		}
		link := "relay link down"
		if s.Connected {
			link = "linked over " + s.Transport
		}
		fmt.Fprintf(&b, "%-5s WMS    generated %d facts%s and %d bad inputs\n", s.ID, s.Generated,
			rate(uint64(s.Generated), uint64(ps.Generated)), s.Bad)
		fmt.Fprintf(&b, "      agent  read %d, quarantined %d → spooled %d%s → acked %d, pending %d; %s", s.Read, s.Quarantined,
			s.Spooled, rate(s.Spooled, ps.Spooled), s.Acked, s.Pending, link)
		if s.Paused != "" {
			fmt.Fprintf(&b, "; spool paused: %s", s.Paused)
		}
		if s.Restarts > 0 {
			fmt.Fprintf(&b, "; %d plugin restarts", s.Restarts)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "relay  stored %d events%s\n", p.Relayed, rate(p.Relayed, relayedOf(prev)))
	for i, k := range p.Sinks {
		var pk SinkProgress
		if prev != nil && i < len(prev.Sinks) {
			pk = prev.Sinks[i]
		}
		fmt.Fprintf(&b, "%-5s  applied %d%s, replays absorbed %d, rejected %d\n", strings.ToUpper(k.Name), k.Applied,
			rate(k.Applied, pk.Applied), k.Replayed, k.Rejected)
		fmt.Fprintf(&b, "       relay delivered %d, second reports skipped %d, lag %d, p99 delay %s, retries %d, dead letters %d\n",
			k.Delivered, k.FactSkips, k.Lag, k.DelayP99, k.Retries, k.DeadLetters)
	}
	for _, e := range p.Errors {
		fmt.Fprintf(&b, "  ! %s\n", e)
	}
	return b.String()
}

func relayedOf(p *Progress) uint64 {
	if p == nil {
		return 0
	}
	return p.Relayed
}

// sinkLedger is a convenience for the sinks' whole ledgers.
func (k *Sink) ledger(ctx context.Context) ([]refsink.Record, error) {
	return k.Client.Records(ctx, refsink.LedgerQuery{})
}
