// Package metrics exposes the relay's state to Prometheus. Nothing is
// counted twice: at each scrape the collector reads the counters the relay
// log, the ingest endpoint and every sink's dispatcher and HTTP client
// already keep (the same figures `dray-relay sinks` and the admin API
// show), so the hot paths carry no metric code.
//
// The admin API serves it at GET /metrics, behind a read token like its
// other reads (Prometheus: authorization.credentials_file).
package metrics

import (
	"net/http"
	"time"

	"github.com/draylink/dray/internal/promsnapshot"
	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/ingest"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/sink"
	"github.com/prometheus/client_golang/prometheus"
)

// Sources are what a scrape reads. A nil func is left out (the relay log
// is always there; ingest starts after the admin API).
type Sources struct {
	Log      func() relaylog.Stats
	Sessions func() []ingest.SessionInfo
	Sinks    func() []Sink
}

// Sink is one sink's state.
type Sink struct {
	Name        string
	Delivery    dispatch.Stats
	HTTP        sink.Stats
	DeadLetters int // records in its dead-letter queue
}

// Handler serves the relay's metrics and the Go runtime's and process's in
// the Prometheus text format.
func Handler(src Sources) http.Handler { return promsnapshot.Handler(NewCollector(src)) }

// NewCollector returns the collector of src.
func NewCollector(src Sources) prometheus.Collector {
	return promsnapshot.Collector(all, func(emit promsnapshot.Emit) { collect(src, emit) })
}

var (
	counter = promsnapshot.Counter
	gauge   = promsnapshot.Gauge
	oneHot  = promsnapshot.OneHot
)

var (
	logLastSeq     = gauge("dray_relay_log_last_sequence", "Global sequence of the last event stored in the relay log.")
	logEvents      = gauge("dray_relay_log_events", "Events retained in the relay log.")
	logDiskBytes   = gauge("dray_relay_log_disk_bytes", "Bytes the relay log's files take on disk.")
	logStored      = counter("dray_relay_log_stored_events_total", "Events stored (fsynced) in the relay log since start.")
	logBatches     = counter("dray_relay_log_batches_total", "Batches offered to the relay log since start, by outcome.", "outcome")
	logSkipped     = counter("dray_relay_log_skipped_events_total", "Events not stored again since start: at or below their stream's high-water mark (sequence) or with an id already stored (id).", "reason")
	logDropped     = counter("dray_relay_log_dropped_sequences_total", "Sequences an agent reported dropped by its lane's overflow policy, since start.")
	logRetired     = counter("dray_relay_log_retired_events_total", "Events deleted by retention since start.")
	logMinCursor   = gauge("dray_relay_log_min_consumer_cursor", "Lowest cursor of the relay log's consumers (retention keeps everything after it).")
	sessions       = gauge("dray_relay_sessions", "Connected agent sessions, by transport.", "transport")
	siteConnected  = gauge("dray_relay_site_connected_seconds", "How long each connected site's session has been up.", "site", "transport")
	siteInFlight   = gauge("dray_relay_site_unacknowledged_publishes", "PUBLISHes of a connected site not yet acknowledged.", "site")
	sinkLag        = gauge("dray_relay_sink_lag_events", "Events in the relay log the sink has not finished (delivered, skipped or dead-lettered).", "sink")
	sinkInFlight   = gauge("dray_relay_sink_in_flight_events", "Events read for the sink and not finished.", "sink")
	sinkEvents     = counter("dray_relay_sink_events_total", "Events finished for the sink since start, by outcome.", "sink", "outcome")
	sinkRetries    = counter("dray_relay_sink_retries_total", "Delivery attempts retried since start.", "sink")
	sinkBatches    = counter("dray_relay_sink_batch_requests_total", "Batch requests sent since start.", "sink")
	sinkDLQ        = gauge("dray_relay_sink_dead_letters", "Records in the sink's dead-letter queue.", "sink")
	sinkRequests   = counter("dray_relay_sink_http_requests_total", "HTTP requests sent to the sink since start.", "sink")
	sinkHTTPInFl   = gauge("dray_relay_sink_http_in_flight_requests", "HTTP requests to the sink awaiting an answer.", "sink")
	sinkBreakerRej = counter("dray_relay_sink_breaker_rejections_total", "Requests the sink's circuit breaker refused since start.", "sink")
	sinkBreaker    = gauge("dray_relay_sink_breaker_state", "1 for the circuit breaker's current state (closed, half-open, open; none without a breaker).", "sink", "state")
)

var all = []promsnapshot.Metric{logLastSeq, logEvents, logDiskBytes, logStored, logBatches, logSkipped, logDropped, logRetired,
	logMinCursor, sessions, siteConnected, siteInFlight, sinkLag, sinkInFlight, sinkEvents, sinkRetries, sinkBatches,
	sinkDLQ, sinkRequests, sinkHTTPInFl, sinkBreakerRej, sinkBreaker}

func collect(src Sources, emit promsnapshot.Emit) {
	if src.Log != nil {
		st := src.Log()
		emit(logLastSeq, float64(st.LastSeq))
		emit(logEvents, float64(st.Events))
		emit(logDiskBytes, float64(st.DiskBytes))
		emit(logStored, float64(st.StoredEvents))
		emit(logBatches, float64(st.StoredBlocks), "stored")
		emit(logBatches, float64(st.DuplicateBatches), "duplicate")
		emit(logBatches, float64(st.GapBatches), "gap")
		emit(logBatches, float64(st.RejectedBatches), "rejected")
		emit(logSkipped, float64(st.SkippedSeq), "sequence")
		emit(logSkipped, float64(st.SkippedID), "id")
		emit(logDropped, float64(st.DroppedSeq))
		emit(logRetired, float64(st.RetiredEvents))
		emit(logMinCursor, float64(st.MinCursor))
	}
	if src.Sessions != nil {
		byTransport := map[string]int{ingest.TransportQUIC: 0, ingest.TransportTCP: 0}
		now := time.Now()
		for _, s := range src.Sessions() {
			byTransport[s.Transport]++
			emit(siteConnected, now.Sub(s.ConnectedSince).Seconds(), s.Site, s.Transport)
			emit(siteInFlight, float64(s.InFlight), s.Site)
		}
		for t, n := range byTransport { // the registry sorts the output
			emit(sessions, float64(n), t)
		}
	}
	if src.Sinks != nil {
		for _, s := range src.Sinks() {
			d, h := s.Delivery, s.HTTP
			emit(sinkLag, float64(d.Lag), s.Name)
			emit(sinkInFlight, float64(d.InFlight), s.Name)
			emit(sinkEvents, float64(d.Delivered), s.Name, "delivered")
			emit(sinkEvents, float64(d.Duplicates), s.Name, "duplicate")
			emit(sinkEvents, float64(d.DeadLettered), s.Name, "dead_lettered")
			emit(sinkEvents, float64(d.Unrouted), s.Name, "unrouted")
			emit(sinkEvents, float64(d.FactDuplicates), s.Name, "fact_duplicate")
			emit(sinkEvents, float64(d.FactConflicts), s.Name, "fact_conflict")
			emit(sinkRetries, float64(d.Retries), s.Name)
			emit(sinkBatches, float64(d.Batches), s.Name)
			emit(sinkDLQ, float64(s.DeadLetters), s.Name)
			emit(sinkRequests, float64(h.Requests), s.Name)
			emit(sinkHTTPInFl, float64(h.InFlight), s.Name)
			emit(sinkBreakerRej, float64(h.BreakerRejects), s.Name)
			for _, state := range []string{"closed", "half-open", "open", "none"} {
				emit(sinkBreaker, oneHot(h.Breaker == state), s.Name, state)
			}
		}
	}
}
