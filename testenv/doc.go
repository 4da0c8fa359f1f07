// Package testenv runs dray for real in tests, the demo and benchmarks: it
// builds the binaries, writes certificates and configuration files, starts
// the relay and agents as separate processes on loopback, kills them with
// SIGKILL or stops them with SIGTERM, and reads the relay log back to count
// exactly what arrived. Subpackages hold the other real parts: udpproxy (a
// UDP fault proxy for partitions and packet loss).
package testenv
