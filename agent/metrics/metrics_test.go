package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/agent/supervisor"
	"github.com/draylink/dray/agent/uplink"
	"github.com/draylink/dray/canonical"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func sources(now time.Time) Sources {
	return Sources{
		Spool: func() spool.Stats {
			return spool.Stats{DiskBytes: 1 << 20, FreeBytes: 5 << 30, Paused: spool.PausedDiskLow,
				Dropped: map[canonical.Lane]uint64{canonical.LaneBulk: 12}, Appended: 900, Acked: 600, Commits: 9,
				Streams: []spool.StreamState{
					{StreamID: spool.StreamID{Lane: canonical.LaneOperational, Stream: 1}, Head: 101, Next: 301, Oldest: now.Add(-90 * time.Second), Bytes: 200000},
					{StreamID: spool.StreamID{Lane: canonical.LaneOperational, Stream: 2}, Head: 1, Next: 51, Live: true, Oldest: now.Add(-time.Second), Bytes: 50000},
					{StreamID: spool.StreamID{Lane: canonical.LaneBulk, Stream: 1}, Head: 7, Next: 7},
				}}
		},
		Uplink: func() uplink.Status {
			return uplink.Status{Connected: true, Transport: uplink.TransportTCP, InFlightBatches: 3, EventsAcked: 600, BatchesSent: 8, BatchesRefused: 1, Connects: 2}
		},
		Connectors: func() []supervisor.Status {
			return []supervisor.Status{{Name: "wms", State: supervisor.StateBackoff, Restarts: 4, Events: 880, Quarantined: 20, LastCommit: time.Unix(1700000000, 0)}}
		},
		Quarantine: func() map[string]int64 { return map[string]int64{"wms": 20} },
	}
}

// A scrape shows the spool, uplink and connector state under stable names:
// pending events and the age of the oldest per lane, why intake is paused,
// which transport is up, each connector's state.
func TestCollectorReportsTheAgentsState(t *testing.T) {
	const want = `
# HELP dray_agent_spool_pending_events Events in the spool not yet acknowledged by the relay, by lane.
# TYPE dray_agent_spool_pending_events gauge
dray_agent_spool_pending_events{lane="bulk"} 0
dray_agent_spool_pending_events{lane="operational"} 250
# HELP dray_agent_spool_intake_paused 1 for why intake is paused (max_bytes, max_age, disk_low), or none.
# TYPE dray_agent_spool_intake_paused gauge
dray_agent_spool_intake_paused{reason="disk_low"} 1
dray_agent_spool_intake_paused{reason="max_age"} 0
dray_agent_spool_intake_paused{reason="max_bytes"} 0
dray_agent_spool_intake_paused{reason="none"} 0
# HELP dray_agent_spool_dropped_events_total Events removed by a lane's drop_oldest policy since start (announced to the relay).
# TYPE dray_agent_spool_dropped_events_total counter
dray_agent_spool_dropped_events_total{lane="bulk"} 12
dray_agent_spool_dropped_events_total{lane="operational"} 0
# HELP dray_agent_uplink_connected 1 while the MQTT session with the relay is up over this transport.
# TYPE dray_agent_uplink_connected gauge
dray_agent_uplink_connected{transport="quic"} 0
dray_agent_uplink_connected{transport="tcp"} 1
# HELP dray_agent_connector_state 1 for the connector's state (starting, running, idle, backoff, stopped).
# TYPE dray_agent_connector_state gauge
dray_agent_connector_state{connector="wms",state="backoff"} 1
dray_agent_connector_state{connector="wms",state="idle"} 0
dray_agent_connector_state{connector="wms",state="running"} 0
dray_agent_connector_state{connector="wms",state="starting"} 0
dray_agent_connector_state{connector="wms",state="stopped"} 0
# HELP dray_agent_connector_last_commit_timestamp_seconds Unix time of the connector's last committed batch (0: none yet).
# TYPE dray_agent_connector_last_commit_timestamp_seconds gauge
dray_agent_connector_last_commit_timestamp_seconds{connector="wms"} 1.7e+09
# HELP dray_agent_quarantine_records Records in quarantine now, by source.
# TYPE dray_agent_quarantine_records gauge
dray_agent_quarantine_records{source="wms"} 20
`
	c := NewCollector(sources(time.Now()))
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "dray_agent_spool_pending_events",
		"dray_agent_spool_intake_paused", "dray_agent_spool_dropped_events_total", "dray_agent_uplink_connected",
		"dray_agent_connector_state", "dray_agent_connector_last_commit_timestamp_seconds", "dray_agent_quarantine_records"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// The oldest pending event's age is that of the oldest stream with events
// waiting; an empty lane shows 0.
func TestOldestPendingAge(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(sources(time.Now())))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ages := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "dray_agent_spool_oldest_pending_age_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			ages[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if a := ages["operational"]; a < 90 || a > 120 {
		t.Errorf("operational: oldest pending %.1f s; want ~90 (the older of the two streams)", a)
	}
	if a, ok := ages["bulk"]; !ok || a != 0 {
		t.Errorf("bulk (nothing pending): %v %v; want 0", a, ok)
	}
}
