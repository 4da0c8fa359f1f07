// Package metrics exposes the agent's state to Prometheus: the spool (what
// waits to be sent, how old it is, why intake is paused), the uplink to the
// relay and every connector. A scrape reads the counters the agent already
// keeps (the same figures as GET /status); nothing is counted twice.
//
// The agent's status listener (status.listen, loopback by default) serves
// it at GET /metrics.
package metrics

import (
	"net/http"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/agent/supervisor"
	"github.com/draylink/dray/agent/uplink"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/promsnapshot"
	"github.com/draylink/dray/internal/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// Sources are what a scrape reads; a nil func is left out.
type Sources struct {
	Spool      func() spool.Stats
	Uplink     func() uplink.Status
	Connectors func() []supervisor.Status
	// Quarantine counts the records in quarantine by source.
	Quarantine func() map[string]int64
}

// Handler serves the agent's metrics and the Go runtime's and process's in
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
	spoolPending   = gauge("dray_agent_spool_pending_events", "Events in the spool not yet acknowledged by the relay, by lane.", "lane")
	spoolPendingB  = gauge("dray_agent_spool_pending_bytes", "Approximate stored size of the pending events, by lane.", "lane")
	spoolOldest    = gauge("dray_agent_spool_oldest_pending_age_seconds", "Age of the oldest unacknowledged event, by lane (0 when none waits).", "lane")
	spoolDisk      = gauge("dray_agent_spool_disk_bytes", "Bytes the spool's files take on disk.")
	spoolFree      = gauge("dray_agent_spool_filesystem_free_bytes", "Free space on the spool's file system.")
	spoolPaused    = gauge("dray_agent_spool_intake_paused", "1 for why intake is paused (max_bytes, max_age, disk_low), or none.", "reason")
	spoolDropped   = counter("dray_agent_spool_dropped_events_total", "Events removed by a lane's drop_oldest policy since start (announced to the relay).", "lane")
	spoolAppended  = counter("dray_agent_spool_appended_events_total", "Events committed to the spool since start.")
	spoolAcked     = counter("dray_agent_spool_acked_events_total", "Events the relay acknowledged and the spool released since start.")
	spoolCommits   = counter("dray_agent_spool_commits_total", "Spool transactions (fsynced) since start.")
	upConnected    = gauge("dray_agent_uplink_connected", "1 while the MQTT session with the relay is up over this transport.", "transport")
	upInFlight     = gauge("dray_agent_uplink_in_flight_batches", "Batches sent and not yet acknowledged.")
	upInFlightB    = gauge("dray_agent_uplink_in_flight_bytes", "Event bytes of the batches in flight (before compression).")
	upAcked        = counter("dray_agent_uplink_acked_events_total", "Events the relay acknowledged since start.")
	upSent         = counter("dray_agent_uplink_batches_sent_total", "Batches sent since start.")
	upRefused      = counter("dray_agent_uplink_batches_refused_total", "Batches the relay refused (negative PUBACK) since start.")
	upConnects     = counter("dray_agent_uplink_connects_total", "Sessions established with the relay since start.")
	connState      = gauge("dray_agent_connector_state", "1 for the connector's state (starting, running, idle, backoff, stopped).", "connector", "state")
	connRestarts   = counter("dray_agent_connector_restarts_total", "Plugin processes started after a failure since start.", "connector")
	connEvents     = counter("dray_agent_connector_events_total", "Events the connector committed since start.", "connector")
	connQuarantine = counter("dray_agent_connector_quarantined_total", "Records of the connector quarantined since start.", "connector")
	connLastCommit = gauge("dray_agent_connector_last_commit_timestamp_seconds", "Unix time of the connector's last committed batch (0: none yet).", "connector")
	quarantined    = gauge("dray_agent_quarantine_records", "Records in quarantine now, by source.", "source")
)

var all = []promsnapshot.Metric{spoolPending, spoolPendingB, spoolOldest, spoolDisk, spoolFree, spoolPaused, spoolDropped,
	spoolAppended, spoolAcked, spoolCommits, upConnected, upInFlight, upInFlightB, upAcked, upSent, upRefused,
	upConnects, connState, connRestarts, connEvents, connQuarantine, connLastCommit, quarantined}

var lanes = []canonical.Lane{canonical.LaneOperational, canonical.LaneBulk}

var pauseReasons = []spool.Paused{spool.PausedNone, spool.PausedMaxBytes, spool.PausedMaxAge, spool.PausedDiskLow}

var states = []supervisor.State{supervisor.StateStarting, supervisor.StateRunning, supervisor.StateIdle,
	supervisor.StateBackoff, supervisor.StateStopped}

func collect(src Sources, emit promsnapshot.Emit) {
	if src.Spool != nil {
		st := src.Spool()
		now := time.Now()
		for _, l := range lanes {
			var pending uint64
			var bytes int64
			var oldest time.Time
			for _, s := range st.Streams {
				if s.Lane != l {
					continue
				}
				pending += s.Pending()
				bytes += s.Bytes
				if s.Pending() > 0 && !s.Oldest.IsZero() && (oldest.IsZero() || s.Oldest.Before(oldest)) {
					oldest = s.Oldest
				}
			}
			name := wire.LaneName(l)
			emit(spoolPending, float64(pending), name)
			emit(spoolPendingB, float64(bytes), name)
			age := 0.0
			if !oldest.IsZero() {
				age = now.Sub(oldest).Seconds()
			}
			emit(spoolOldest, age, name)
			emit(spoolDropped, float64(st.Dropped[l]), name)
		}
		emit(spoolDisk, float64(st.DiskBytes))
		if st.FreeBytes >= 0 {
			emit(spoolFree, float64(st.FreeBytes))
		}
		for _, r := range pauseReasons {
			label := string(r)
			if r == spool.PausedNone {
				label = "none"
			}
			emit(spoolPaused, oneHot(st.Paused == r), label)
		}
		emit(spoolAppended, float64(st.Appended))
		emit(spoolAcked, float64(st.Acked))
		emit(spoolCommits, float64(st.Commits))
	}
	if src.Uplink != nil {
		st := src.Uplink()
		for _, t := range []string{uplink.TransportQUIC, uplink.TransportTCP} {
			emit(upConnected, oneHot(st.Connected && st.Transport == t), t)
		}
		emit(upInFlight, float64(st.InFlightBatches))
		emit(upInFlightB, float64(st.InFlightBytes))
		emit(upAcked, float64(st.EventsAcked))
		emit(upSent, float64(st.BatchesSent))
		emit(upRefused, float64(st.BatchesRefused))
		emit(upConnects, float64(st.Connects))
	}
	if src.Connectors != nil {
		for _, s := range src.Connectors() {
			for _, state := range states {
				emit(connState, oneHot(s.State == state), s.Name, string(state))
			}
			emit(connRestarts, float64(s.Restarts), s.Name)
			emit(connEvents, float64(s.Events), s.Name)
			emit(connQuarantine, float64(s.Quarantined), s.Name)
			last := 0.0
			if !s.LastCommit.IsZero() {
				last = float64(s.LastCommit.UnixNano()) / 1e9
			}
			emit(connLastCommit, last, s.Name)
		}
	}
	if src.Quarantine != nil {
		for source, n := range src.Quarantine() {
			emit(quarantined, float64(n), source)
		}
	}
}
