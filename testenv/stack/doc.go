// Package stack composes a whole dray deployment from real processes on
// loopback, for the demo (testenv/cmd/dray-demo), the chaos harness and
// tests: a relay with its embedded store, its own site CA and enrollment
// endpoint, admin API and the routes of Routes; the reference ERP and TMS
// (dray-refsink, with fault knobs); and per site a WMS simulator
// (dray-wmssim, with its ground truth) and an agent enrolled with a
// one-time token, running the sql connector on the simulator's database
// and the file-drop connector on its X12 drop.
//
// What the agents read (Reading): the WMS tables, and the carrier's X12
// 214 status files and the 846 inventory snapshots. Carrier milestones and
// proofs of delivery come from the 214s, so the sql connector's entries
// for the tables the WMS imports them into are left out; the simulator
// writes no CSV export and no 945. Each fact therefore reaches a sink from
// one source, under its idempotency key.
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
