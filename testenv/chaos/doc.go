// Package chaos is the reliability harness of docs/RELIABILITY.md (`make
// chaos`): it runs a whole dray deployment as real processes — three
// agents (one with its spool on a small tmpfs), the relay, the sql and
// file-drop connectors reading a WMS simulator per site, the reference ERP
// and TMS with fault knobs, and a UDP fault proxy between each agent and
// the relay — and injects a seeded schedule of faults:
//
//   - kill -9 of agents at random moments and right after an observed
//     spool commit, of the relay, and of connector plugins;
//   - the processes' own crash points (internal/crashpoint,
//     DRAY_CRASHPOINT): the relay dies after a group commit before its
//     PUBACKs, and after a sink took an event before the relay recorded
//     the delivery; an agent after a PUBACK before its spool records it;
//   - SIGSTOP/SIGCONT of plugins (a hung plugin);
//   - partitions and 20 % packet loss windows on each agent's link;
//   - disk-full episodes on the small agent's file system;
//   - sink outages, errors, 429s, latency, and responses dropped after
//     the sink applied the request.
//
// Every fault is proved from counters, not from the schedule (the
// process really died of SIGKILL and came back with a new pid, the proxy
// really dropped packets, the sink really dropped responses, the agent
// really paused on low disk, a crash point's process wrote its line and
// died of SIGKILL), and the run fails when a class fired fewer times than
// the profile requires. A watchdog restarts a process that died without
// the harness's doing and reports it as a failure; after the clean stop,
// any process left running from the run's binaries is an orphan and a
// failure too. After the fault phase the harness
// heals everything, stops the simulators, drains (stack.Settle), and
// counts lost, duplicated, foreign, wrongly quarantined and missed-bad
// events exactly from the sinks' ledgers and the agents' quarantines
// against the simulators' ground truth (stack.Evidence.Count, which is
// wmssim.Truth.Count per site); dead letters fail the run too. Any count above zero
// fails the run; the report names the seed, the faults fired and each bad
// event.
//
// The same seed gives the same schedule; the processes' timing does not
// repeat exactly on a shared machine, so a failure is reproduced by seed
// and, when it does not recur, by the schedule the report prints.
package chaos
