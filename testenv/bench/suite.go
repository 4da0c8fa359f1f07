package bench

import (
	"fmt"
	"regexp"
	"strings"
)

// Term is one reported metric that adds to a figure, times Scale.
type Term struct {
	Unit  string
	Scale float64
}

// Scenario is one benchmark of the suite: one (sub-)benchmark of one
// package, run in a test binary process of its own with a fixed iteration
// count, so its time is bounded and its process figures are its own.
type Scenario struct {
	// ID names the scenario in groups and on the command line.
	ID string
	// Title is the table's label.
	Title string
	// Pkg is the package directory relative to the module root.
	Pkg string
	// Bench is the benchmark's full name, "BenchmarkX" or "BenchmarkX/sub".
	Bench string
	// Benchtime is the -benchtime, always a count ("400x").
	Benchtime string
	// Rate is the metric that is the scenario's events per second; "ns/op"
	// means one event per op (1e9 / ns/op). Empty: Offered is shown.
	Rate string
	// Offered is the offered rate of a latency scenario (events/s).
	Offered float64
	// EventBytes is an event's size for MB/s when the benchmark reports no
	// MB/s; SizeUnit, when reported, overrides it.
	EventBytes float64
	SizeUnit   string
	// CPU is summed into CPU µs per event; empty: UnitCPU. ProcessEvents,
	// for a 1x scenario without a CPU metric, divides the test process's
	// CPU time instead.
	CPU           []Term
	ProcessEvents float64
	// RSS is the metric with the peak resident set in MiB; empty: UnitRSS,
	// and failing that the test process's own peak (setup included).
	RSS string
	// Peer marks a peer or a raw limit (not dray).
	Peer bool
	// How says what is measured, for the notes under the table.
	How string
}

// Figure names a figure a comparison is made on.
type Figure string

// Figures a ratio is taken on: dray's figure ÷ the peer's.
const (
	OnRate Figure = "events/s"
	OnMBps Figure = "MB/s"
	OnP99  Figure = "p99"
)

// Compare is one peer of a group and the figure the ratio is taken on.
type Compare struct {
	Peer string
	On   Figure
}

// Group is a dray scenario with the peers it is measured against; the
// first peer is the one named in the dray row.
type Group struct {
	Dray  string
	Peers []Compare
}

// Suite is the benchmark suite: its scenarios, in run order, and the groups
// the table shows.
type Suite struct {
	Scenarios []Scenario
	Groups    []Group
}

// Scenario looks a scenario up by ID.
func (s *Suite) Scenario(id string) (Scenario, bool) {
	for _, sc := range s.Scenarios {
		if sc.ID == id {
			return sc, true
		}
	}
	return Scenario{}, false
}

// Validate checks that IDs are unique, groups name known scenarios and
// every scenario has a package, a benchmark and a count.
func (s *Suite) Validate() error {
	seen := map[string]bool{}
	count := regexp.MustCompile(`^[1-9][0-9]*x$`)
	for i, sc := range s.Scenarios {
		switch {
		case sc.ID == "" || seen[sc.ID]:
			return fmt.Errorf("scenario %d: empty or duplicate id %q", i, sc.ID)
		case sc.Pkg == "" || !strings.HasPrefix(sc.Bench, "Benchmark"):
			return fmt.Errorf("scenario %s: package %q, benchmark %q", sc.ID, sc.Pkg, sc.Bench)
		case !count.MatchString(sc.Benchtime):
			return fmt.Errorf("scenario %s: benchtime %q is not a count (Nx)", sc.ID, sc.Benchtime)
		case sc.Rate == "" && sc.Offered == 0:
			return fmt.Errorf("scenario %s: neither a rate metric nor an offered rate", sc.ID)
		}
		seen[sc.ID] = true
	}
	for _, g := range s.Groups {
		if !seen[g.Dray] || len(g.Peers) == 0 {
			return fmt.Errorf("group %q: unknown scenario or no peer", g.Dray)
		}
		for _, p := range g.Peers {
			if !seen[p.Peer] {
				return fmt.Errorf("group %s: unknown peer %q", g.Dray, p.Peer)
			}
		}
	}
	return nil
}

// Select is the scenarios whose ID matches re, plus those their groups
// compare them with, in run order: group by group, each dray scenario
// followed by its peers not run yet (so a row and its first peer run close
// together in time, under much the same load), then the rest in suite
// order.
func (s *Suite) Select(re *regexp.Regexp) []Scenario {
	want := map[string]bool{}
	for _, sc := range s.Scenarios {
		if re.MatchString(sc.ID) {
			want[sc.ID] = true
		}
	}
	for _, g := range s.Groups {
		if want[g.Dray] {
			for _, p := range g.Peers {
				want[p.Peer] = true
			}
		}
	}
	var out []Scenario
	taken := map[string]bool{}
	take := func(id string) {
		if sc, ok := s.Scenario(id); ok && want[id] && !taken[id] {
			taken[id] = true
			out = append(out, sc)
		}
	}
	for _, g := range s.Groups {
		if !want[g.Dray] {
			continue
		}
		take(g.Dray)
		for _, p := range g.Peers {
			take(p.Peer)
		}
	}
	for _, sc := range s.Scenarios {
		take(sc.ID)
	}
	return out
}

// BenchPattern is the -test.bench pattern that selects exactly the
// benchmark named name: each level anchored and quoted.
func BenchPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// perOpNS is the CPU of a one-goroutine benchmark: its ns/op, in µs.
var perOpNS = []Term{{"ns/op", 1e-3}}

// Default is dray's suite: a full run takes about 10 minutes on the 2-core
// build machine. Counts are chosen so each scenario runs a few seconds at
// the rates measured there, long enough for group commits and windows to
// reach their steady state.
func Default() *Suite {
	s := &Suite{}
	add := func(sc Scenario) { s.Scenarios = append(s.Scenarios, sc) }

	// canonical (issue 2)
	add(Scenario{ID: "codec-binary", Title: "canonical binary encode + decode, ~1 KB event", Pkg: "canonical",
		Bench: "BenchmarkBinaryEncodeDecode/typical", Benchtime: "300000x", Rate: "ns/op", CPU: perOpNS,
		EventBytes: 593, SizeUnit: "binary-bytes", How: "vtprotobuf, pooled decode, one goroutine; CPU is ns/op"})
	add(Scenario{ID: "peer-protoreflect", Title: "protobuf-go reflection, same event", Pkg: "canonical",
		Bench: "BenchmarkPeerProtoReflect/typical", Benchtime: "100000x", Rate: "ns/op", CPU: perOpNS,
		EventBytes: 593, Peer: true, How: "proto.Marshal + proto.Unmarshal"})
	add(Scenario{ID: "codec-json", Title: "canonical CloudEvents JSON encode + strict decode", Pkg: "canonical",
		Bench: "BenchmarkJSONEncodeStrictDecode/typical", Benchtime: "100000x", Rate: "ns/op", CPU: perOpNS,
		EventBytes: 1218, SizeUnit: "json-bytes", How: "generated codec, one goroutine; CPU is ns/op"})
	add(Scenario{ID: "peer-protojson", Title: "protojson (reflective, not strict), same event", Pkg: "canonical",
		Bench: "BenchmarkPeerProtoJSON/typical", Benchtime: "20000x", Rate: "ns/op", CPU: perOpNS,
		EventBytes: 1218, Peer: true, How: "protojson.Marshal + Unmarshal"})

	// agent spool and Badger (issue 3)
	add(Scenario{ID: "spool-append", Title: "agent spool append, 4 sources × 256 events per commit", Pkg: "agent/spool",
		Bench: "BenchmarkSpoolAppend", Benchtime: "800x", Rate: "events/s", EventBytes: 1024,
		How: "group commit, one fsynced Badger transaction per group, 1 KB events"})
	add(Scenario{ID: "raw-badger", Title: "raw: Badger batched sync write, 1,000 keys per txn", Pkg: "agent/spool",
		Bench: "BenchmarkBadgerBatchedSyncWrite", Benchtime: "200000x", Rate: "events/s", EventBytes: 1024, Peer: true,
		How: "Badger defaults + SyncWrites, one 1 KB key per event, one writer"})

	// relay log (issue 3)
	add(Scenario{ID: "relaylog-append", Title: "relay log append, 16 streams × 256 events per group commit", Pkg: "relay/relaylog",
		Bench: "BenchmarkAppend/relaylog/batch256_x16", Benchtime: "50x", Rate: "events/s", RSS: "peak-rss-MB",
		How: "blocks, id index, marks, time index; one fsync per group"})
	add(Scenario{ID: "raw-badger-relay", Title: "raw: Badger, one key per event, same batches", Pkg: "relay/relaylog",
		Bench: "BenchmarkAppend/badger-per-key/batch256_x16", Benchtime: "50x", Rate: "events/s", RSS: "peak-rss-MB", Peer: true,
		How: "Badger SyncWrites, one transaction per group of 4,096 events"})

	// relay ingest (issue 3)
	add(Scenario{ID: "ingest-quic", Title: "relay ingest over QUIC, 32 batches of 256 in flight", Pkg: "relay/ingest",
		Bench: "BenchmarkIngestQUIC/K=256", Benchtime: "400x", Rate: "events/s", EventBytes: 1024,
		How: "MQTT v5 PUBLISH of event batches to the real endpoint, PUBACK after the relay log's fsync"})

	// spine: agent → relay (issue 3)
	add(Scenario{ID: "e2e-quic", Title: "agent → relay over QUIC, sustained (spool → uplink → ingest → relay log)", Pkg: "agent/uplink",
		Bench: "BenchmarkThroughput/quic", Benchtime: "200000x", Rate: "events/s", EventBytes: 1024,
		How: "4 producers commit 250 at a time; fsync before every ack at both ends; one process. Batches travel " +
			"zstd-compressed (~5× on these events), so its MB/s of events can exceed the raw link's MB/s of bytes"})
	add(Scenario{ID: "e2e-tcp", Title: "agent → relay over TLS/TCP, sustained", Pkg: "agent/uplink",
		Bench: "BenchmarkThroughput/tcp", Benchtime: "200000x", Rate: "events/s", EventBytes: 1024,
		How: "as above over the TCP fallback"})
	add(Scenario{ID: "lat-quic", Title: "latency spool commit → durable in the relay log, QUIC", Pkg: "agent/uplink",
		Bench: "BenchmarkLatency/quic", Benchtime: "5000x", Offered: 1000, EventBytes: 1024,
		How: "1,000 events/s offered, 5,000 events"})

	// peers: mosquitto, NATS JetStream
	add(Scenario{ID: "mosquitto", Title: "mosquitto 2.0, persistence, QoS 1, 1 KB per event", Pkg: "testenv/peers",
		Bench: "BenchmarkPeerMosquitto", Benchtime: "50000x", Rate: "msgs/s", Peer: true,
		How: "one publisher, one persistent QoS 1 subscriber; persisted every second, not per message"})
	for _, sync := range []string{"lazy", "always"} {
		for _, m := range []struct{ mode, n, title string }{
			{"sync-1", "10000x", "sync publish, 1 client"},
			{"sync-16", "30000x", "sync publish, 16 clients"},
			{"async", "200000x", "async publish, 256 in flight"},
			{"batch-100", "50000x", "atomic batches of 100"},
			{"batch-1000", "100000x", "atomic batches of 1,000"},
		} {
			n := m.n
			if sync == "always" {
				n = map[string]string{"sync-1": "2000x", "sync-16": "5000x", "async": "10000x",
					"batch-100": "20000x", "batch-1000": "50000x"}[m.mode]
			}
			fsync := "lazy fsync (default)"
			if sync == "always" {
				fsync = "fsync every write"
			}
			add(Scenario{ID: "js-" + sync + "-" + m.mode, Title: "NATS JetStream file store, " + fsync + ", " + m.title,
				Pkg: "testenv/peers", Bench: "BenchmarkPeerJetStream/" + sync + "/" + m.mode, Benchtime: n,
				Rate: "msgs/s", Peer: true,
				How: "nats-server (pinned) on loopback, one stream, 1 KB messages; latency is publish → ack (per batch for batches)"})
		}
	}

	// raw limits
	add(Scenario{ID: "raw-fsync", Title: "raw: disk fsync, 4 KiB append + fsync", Pkg: "testenv/peers",
		Bench: "BenchmarkRawFsync", Benchtime: "3000x", Rate: "fsyncs/s", Peer: true,
		How: "one file in the temp dir; events/s column is fsyncs/s"})
	add(Scenario{ID: "raw-quic", Title: "raw: loopback QUIC, one stream, 64 KiB writes", Pkg: "testenv/peers",
		Bench: "BenchmarkRawLoopback/quic", Benchtime: "3000x", Rate: "events/s", Peer: true,
		How: "quic-go with the uplink's configuration; events/s in 1 KiB units"})
	add(Scenario{ID: "raw-tls", Title: "raw: loopback TLS 1.3 over TCP, 64 KiB writes", Pkg: "testenv/peers",
		Bench: "BenchmarkRawLoopback/tls-tcp", Benchtime: "3000x", Rate: "events/s", Peer: true,
		How: "crypto/tls, same certificates; events/s in 1 KiB units"})

	// connectors and plugin stream (issue 4)
	add(Scenario{ID: "plugin-sdk", Title: "plugin → agent gRPC stream through the SDK, 100 per batch", Pkg: "plugins/pluginhost",
		Bench: "BenchmarkPluginStream/sdk/batch=100", Benchtime: "100000x", Rate: "events/s",
		CPU: []Term{{"plugin-cpu-µs/event", 1}, {"host-cpu-µs/event", 1}},
		How: "go-plugin gRPC, AutoMTLS; SDK validates and encodes, host acks"})
	add(Scenario{ID: "plugin-sdk-validated", Title: "plugin → agent stream, events built by canonical.NewEvent, 100 per batch", Pkg: "plugins/pluginhost",
		Bench: "BenchmarkPluginStream/sdk-validated/batch=100", Benchtime: "100000x", Rate: "events/s",
		CPU: []Term{{"plugin-cpu-µs/event", 1}, {"host-cpu-µs/event", 1}},
		How: "as above, the SDK skipping its second validation (Batch.Validated), as the sql and filedrop connectors send"})
	add(Scenario{ID: "plugin-sdk-pipelined", Title: "plugin → agent stream, NewEvent-built, pipelined batches of 100", Pkg: "plugins/pluginhost",
		Bench: "BenchmarkPluginStream/sdk-pipelined/batch=100", Benchtime: "300000x", Rate: "events/s",
		CPU: []Term{{"plugin-cpu-µs/event", 1}, {"host-cpu-µs/event", 1}},
		How: "as above, up to 4 batches awaiting the host's ack (Batch.Pipelined), as the sql connector sends"})
	add(Scenario{ID: "plugin-bare", Title: "bare go-plugin gRPC stream, same events", Pkg: "plugins/pluginhost",
		Bench: "BenchmarkPluginStream/bare/batch=100", Benchtime: "300000x", Rate: "events/s", Peer: true,
		CPU: []Term{{"plugin-cpu-µs/event", 1}, {"host-cpu-µs/event", 1}},
		How: "events encoded once up front, no validation, no acks"})
	add(Scenario{ID: "sql-pg", Title: "sql connector, PostgreSQL → spool, per row, default page (500 rows)", Pkg: "plugins/sql",
		Bench: "BenchmarkPostgresToSpool/batch=500", Benchtime: "60000x", Rate: "rows/s", EventBytes: 1024,
		CPU: []Term{{"plugin-cpu-µs/row", 1}, {"host-cpu-µs/row", 1}},
		How: "real plugin process, a local PostgreSQL, real spool; one event per row"})
	add(Scenario{ID: "filedrop-csv", Title: "filedrop connector, CSV → spool, per row", Pkg: "plugins/filedrop",
		Bench: "BenchmarkIntegrationSpool/csv", Benchtime: "40000x", Rate: "rows/s", EventBytes: 1024,
		CPU: []Term{{"plugin-cpu-µs/rows", 1}, {"host-cpu-µs/rows", 1}},
		How: "real plugin process, one CSV file, real spool; one event per row"})

	// relay fan-out (issue 5)
	add(Scenario{ID: "dispatch-single", Title: "relay dispatch alone → no-op HTTP sink, one request per event", Pkg: "relay/dispatch",
		Bench: "BenchmarkDispatch/single-jq", Benchtime: "20000x", Rate: "events/s", EventBytes: 1024,
		How: "relay log → jq goods-movement route → net/http no-op server, one process; CPU includes the no-op server"})
	add(Scenario{ID: "raw-nethttp", Title: "raw: net/http POSTs to a no-op handler, 32 in flight", Pkg: "testenv/refsink",
		Bench: "BenchmarkGoodsMovement/peer-nethttp-noop/c32", Benchtime: "20000x", Rate: "events/s", EventBytes: 1024, Peer: true,
		CPU: []Term{{"server-cpu-µs/event", 1}, {"client-cpu-µs/event", 1}},
		How: "net/http client and a no-op server process, one event per request: the HTTP floor"})
	add(Scenario{ID: "sink-client", Title: "relay sink client (fasthttp), one request per event, 32 in flight", Pkg: "relay/sink",
		Bench: "BenchmarkDo/sink", Benchtime: "50000x", Rate: "requests/s",
		CPU: []Term{{"cpu-µs/request", 1}},
		How: "sink.Do with its headers, auth hook, timeout and bounded body read → a net/http no-op server in another process; CPU is the client process's"})
	add(Scenario{ID: "peer-nethttp-client", Title: "net/http client, the same requests", Pkg: "relay/sink",
		Bench: "BenchmarkDo/peer-nethttp", Benchtime: "50000x", Rate: "requests/s", Peer: true,
		CPU: []Term{{"cpu-µs/request", 1}},
		How: "http.Client, keep-alive pool of 64, same server process"})
	add(Scenario{ID: "fanout-batched", Title: "relay → 2 reference ERPs, 100 per request, per sink", Pkg: "testenv",
		Bench: "BenchmarkFanOut/batched", Benchtime: "100000x", Rate: "events/s/sink", EventBytes: 1024,
		CPU: []Term{{"relay-cpu-µs/delivery", 1}, {"sink-cpu-µs/event", 1}},
		How: "dray-relay and two dray-refsink processes; CPU is relay + sink per delivery"})
	add(Scenario{ID: "refsink-batch", Title: "raw: reference ERP alone, OData batches of 100 as the relay sends them, 4 in flight", Pkg: "testenv/refsink",
		Bench: "BenchmarkGoodsMovement/odata100/c4", Benchtime: "300x", Rate: "events/s", EventBytes: 1024, Peer: true,
		CPU: []Term{{"server-cpu-µs/event", 1}, {"client-cpu-µs/event", 1}},
		How: "dray-refsink process, ledger fsynced before every answer; the load from net/http"})
	add(Scenario{ID: "fanout-single", Title: "relay → 2 reference ERPs, one request per event, per sink", Pkg: "testenv",
		Bench: "BenchmarkFanOut/single", Benchtime: "20000x", Rate: "events/s/sink", EventBytes: 1024,
		CPU: []Term{{"relay-cpu-µs/delivery", 1}, {"sink-cpu-µs/event", 1}},
		How: "as above, one POST per event per sink"})
	add(Scenario{ID: "refsink-single", Title: "raw: reference ERP alone, one event per request, 32 in flight", Pkg: "testenv/refsink",
		Bench: "BenchmarkGoodsMovement/single/c32", Benchtime: "10000x", Rate: "events/s", EventBytes: 1024, Peer: true,
		CPU: []Term{{"server-cpu-µs/event", 1}, {"client-cpu-µs/event", 1}},
		How: "as above, one event per request"})

	// WMS simulator (issue 7)
	add(Scenario{ID: "wmssim", Title: "WMS simulator, SQLite + CSV/X12 drops, facts", Pkg: "testenv/wmssim",
		Bench: "BenchmarkSimSQLiteFiles", Benchtime: "1x", Rate: "facts/s", ProcessEvents: 50000,
		How: "50,000 facts at full speed; CPU is the test process's over the run"})

	s.Groups = []Group{
		{Dray: "codec-binary", Peers: []Compare{{"peer-protoreflect", OnRate}}},
		{Dray: "codec-json", Peers: []Compare{{"peer-protojson", OnRate}}},
		{Dray: "e2e-quic", Peers: []Compare{
			{"mosquitto", OnRate}, {"js-lazy-async", OnRate}, {"js-lazy-sync-1", OnRate}, {"js-lazy-sync-16", OnRate},
			{"js-lazy-batch-100", OnRate}, {"js-lazy-batch-1000", OnRate}, {"js-always-sync-1", OnRate},
			{"js-always-sync-16", OnRate}, {"js-always-async", OnRate}, {"js-always-batch-100", OnRate},
			{"js-always-batch-1000", OnRate}, {"raw-quic", OnMBps}}},
		{Dray: "spool-append", Peers: []Compare{{"raw-badger", OnRate}, {"js-always-batch-1000", OnRate}, {"js-lazy-async", OnRate}}},
		{Dray: "relaylog-append", Peers: []Compare{{"raw-badger-relay", OnRate}}},
		{Dray: "ingest-quic", Peers: []Compare{{"js-lazy-async", OnRate}, {"js-always-batch-1000", OnRate}, {"raw-quic", OnMBps}}},
		{Dray: "e2e-tcp", Peers: []Compare{{"raw-tls", OnMBps}}},
		{Dray: "lat-quic", Peers: []Compare{{"js-always-sync-1", OnP99}, {"raw-fsync", OnP99}}},
		{Dray: "plugin-sdk-pipelined", Peers: []Compare{{"plugin-bare", OnRate}}},
		{Dray: "plugin-sdk-validated", Peers: []Compare{{"plugin-bare", OnRate}}},
		{Dray: "plugin-sdk", Peers: []Compare{{"plugin-bare", OnRate}}},
		{Dray: "sql-pg", Peers: []Compare{{"spool-append", OnRate}}},
		{Dray: "filedrop-csv", Peers: []Compare{{"spool-append", OnRate}}},
		{Dray: "dispatch-single", Peers: []Compare{{"raw-nethttp", OnRate}}},
		{Dray: "sink-client", Peers: []Compare{{"peer-nethttp-client", OnRate}}},
		{Dray: "fanout-batched", Peers: []Compare{{"refsink-batch", OnRate}}},
		{Dray: "fanout-single", Peers: []Compare{{"refsink-single", OnRate}}},
		{Dray: "wmssim", Peers: []Compare{{"e2e-quic", OnRate}}},
	}
	return s
}
