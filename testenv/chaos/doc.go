// Package chaos is the reliability harness of docs/RELIABILITY.md (`make
// chaos`): it runs a whole dray deployment as real processes — three
// agents (one with its spool on a small tmpfs), the relay, the sql and
// file-drop connectors reading a WMS simulator per site, the reference ERP
// and TMS with fault knobs, and a UDP fault proxy between each agent and
// the relay — and injects a seeded schedule of faults:
//
//   - kill -9 of agents at random moments and right after an observed
//     spool commit (the crash-point substitute: the agents have no
//     in-process crash points), of the relay, and of connector plugins;
//   - SIGSTOP/SIGCONT of plugins (a hung plugin);
//   - partitions and 20 % packet loss windows on each agent's link;
//   - disk-full episodes on the small agent's file system;
//   - sink outages, errors, 429s, latency, and responses dropped after
//     the sink applied the request.
//
// Every fault is proved from counters, not from the schedule (the
// process really died of SIGKILL and came back with a new pid, the proxy
// really dropped packets, the sink really dropped responses, the agent
// really paused on low disk), and the run fails when a class fired fewer
// times than the profile requires. After the fault phase the harness
// heals everything, stops the simulators, drains, and counts lost,
// duplicated, foreign, wrongly quarantined and missed-bad events exactly
// from the sinks' ledgers and the agents' quarantines against the
// simulators' ground truth (wmssim.Truth.Count). Any count above zero
// fails the run; the report names the seed, the faults fired and each bad
// event.
//
// The same seed gives the same schedule; the processes' timing does not
// repeat exactly on a shared machine, so a failure is reproduced by seed
// and, when it does not recur, by the schedule the report prints.
package chaos
