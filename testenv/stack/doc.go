// Package stack composes a whole dray deployment from real processes on
// loopback, for the demo (testenv/cmd/dray-demo), the chaos harness and
// tests: a relay with its embedded store, its own site CA and enrollment
// endpoint, admin API and the routes of Routes; the reference ERP and TMS
// (dray-refsink, with fault knobs); and per site a WMS simulator
// (dray-wmssim, with its ground truth) and an agent enrolled with a
// one-time token, running the sql connector on the simulator's database
// and the file-drop connector on its CSV and X12 drops.
//
// What the agents read (Reading): every source the simulator writes — the
// WMS tables (sql connector), the CSV movement exports and the X12 945, 214
// and 846 files (file-drop connector). Many facts are therefore reported
// twice: a movement by its table row and its CSV line, a goods issue by
// the shipments table and the 945, a milestone by the WMS's import table
// and the carrier's 214. Both reports carry the fact's idempotency key;
// the relay delivers the first and skips the other (relay/dispatch, "One
// fact, once"), so each fact reaches each sink once.
//
// Use: Build, New (writes configurations and the PKI), Start (sinks,
// relay, enrollment, agents, simulators), Progress (one look at every
// part through its own endpoints) while it runs, StopSims or WaitSims,
// Settle (nothing left in flight), Collect and Evidence.Count (the ground
// truth against the ledgers and quarantines), Stop (SIGTERM to every
// process, in order). Every process is a proc.Process the caller may
// kill, stop and start again; Site.Proxy is a UDP fault proxy when asked
// for, and the sinks' fault knobs are Sink.Client.SetFaults.
package stack
