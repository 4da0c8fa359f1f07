package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/ingest"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/sink"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func sources() Sources {
	return Sources{
		Log: func() relaylog.Stats {
			return relaylog.Stats{LastSeq: 1200, Events: 1100, DiskBytes: 4096, StoredEvents: 1200, StoredBlocks: 12,
				DuplicateBatches: 3, GapBatches: 1, SkippedSeq: 40, SkippedID: 2, RetiredEvents: 100, MinCursor: 1001}
		},
		Sessions: func() []ingest.SessionInfo {
			return []ingest.SessionInfo{
				{Site: "MEM1", Transport: ingest.TransportQUIC, ConnectedSince: time.Now().Add(-time.Minute), InFlight: 3},
				{Site: "DAL2", Transport: ingest.TransportTCP, ConnectedSince: time.Now().Add(-time.Hour)},
			}
		},
		Sinks: func() []Sink {
			return []Sink{{Name: "erp",
				Delivery:    dispatch.Stats{Sink: "erp", Lag: 57, InFlight: 32, Delivered: 1000, Duplicates: 4, DeadLettered: 2, Unrouted: 90, FactDuplicates: 5, Retries: 17, Batches: 11},
				HTTP:        sink.Stats{Requests: 30, InFlight: 2, BreakerRejects: 6, Breaker: "open"},
				DeadLetters: 2,
			}}
		},
	}
}

// The figures a scrape shows are the relay's own counters, under stable
// names and labels.
func TestCollectorReportsTheRelaysCounters(t *testing.T) {
	const want = `
# HELP dray_relay_log_last_sequence Global sequence of the last event stored in the relay log.
# TYPE dray_relay_log_last_sequence gauge
dray_relay_log_last_sequence 1200
# HELP dray_relay_log_batches_total Batches offered to the relay log since start, by outcome.
# TYPE dray_relay_log_batches_total counter
dray_relay_log_batches_total{outcome="duplicate"} 3
dray_relay_log_batches_total{outcome="gap"} 1
dray_relay_log_batches_total{outcome="rejected"} 0
dray_relay_log_batches_total{outcome="stored"} 12
# HELP dray_relay_sessions Connected agent sessions, by transport.
# TYPE dray_relay_sessions gauge
dray_relay_sessions{transport="quic"} 1
dray_relay_sessions{transport="tcp"} 1
# HELP dray_relay_site_unacknowledged_publishes PUBLISHes of a connected site not yet acknowledged.
# TYPE dray_relay_site_unacknowledged_publishes gauge
dray_relay_site_unacknowledged_publishes{site="DAL2"} 0
dray_relay_site_unacknowledged_publishes{site="MEM1"} 3
# HELP dray_relay_sink_lag_events Events in the relay log the sink has not finished (delivered, skipped or dead-lettered).
# TYPE dray_relay_sink_lag_events gauge
dray_relay_sink_lag_events{sink="erp"} 57
# HELP dray_relay_sink_events_total Events finished for the sink since start, by outcome.
# TYPE dray_relay_sink_events_total counter
dray_relay_sink_events_total{outcome="dead_lettered",sink="erp"} 2
dray_relay_sink_events_total{outcome="delivered",sink="erp"} 1000
dray_relay_sink_events_total{outcome="duplicate",sink="erp"} 4
dray_relay_sink_events_total{outcome="fact_conflict",sink="erp"} 0
dray_relay_sink_events_total{outcome="fact_duplicate",sink="erp"} 5
dray_relay_sink_events_total{outcome="unrouted",sink="erp"} 90
# HELP dray_relay_sink_breaker_state 1 for the circuit breaker's current state (closed, half-open, open; none without a breaker).
# TYPE dray_relay_sink_breaker_state gauge
dray_relay_sink_breaker_state{sink="erp",state="closed"} 0
dray_relay_sink_breaker_state{sink="erp",state="half-open"} 0
dray_relay_sink_breaker_state{sink="erp",state="none"} 0
dray_relay_sink_breaker_state{sink="erp",state="open"} 1
# HELP dray_relay_sink_dead_letters Records in the sink's dead-letter queue.
# TYPE dray_relay_sink_dead_letters gauge
dray_relay_sink_dead_letters{sink="erp"} 2
`
	err := testutil.CollectAndCompare(NewCollector(sources()), strings.NewReader(want),
		"dray_relay_log_last_sequence", "dray_relay_log_batches_total", "dray_relay_sessions",
		"dray_relay_site_unacknowledged_publishes", "dray_relay_sink_lag_events", "dray_relay_sink_events_total",
		"dray_relay_sink_breaker_state", "dray_relay_sink_dead_letters")
	if err != nil {
		t.Error(err)
	}
	// Every described metric is collected and passes the registry's checks.
	if problems, err := testutil.CollectAndLint(NewCollector(sources())); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// Before ingest runs (and with no sinks) a scrape still answers.
func TestCollectorWithoutIngest(t *testing.T) {
	src := sources()
	src.Sessions, src.Sinks = nil, nil
	srv := httptest.NewServer(Handler(src))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{"dray_relay_log_stored_events_total 1200", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if strings.Contains(string(body), "dray_relay_sink_") || strings.Contains(string(body), "dray_relay_sessions") {
		t.Error("scrape shows sink or session metrics without their sources")
	}
}
