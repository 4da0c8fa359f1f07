// Package testenv runs dray for real in tests, the demo and benchmarks: it
// builds the binaries, writes certificates and configuration files, starts
// the relay and agents as separate processes on loopback, kills them with
// SIGKILL or stops them with SIGTERM, and reads the relay log back to count
// exactly what arrived. Subpackages hold the other real parts: proc (the
// child-process harness shared with the others), stack (a whole deployment:
// relay, reference sinks, simulators and enrolled agents with connectors;
// the demo and the chaos harness run it), wmssim (the WMS simulator and its
// ground truth), refsink (the reference ERP and TMS), udpproxy (a UDP fault
// proxy for partitions and packet loss).
package testenv
