// Package bench is dray's benchmark suite runner (make bench): the
// scenarios of every issue and the peers they are compared with (mosquitto,
// NATS JetStream, the machine's raw limits), each run as its own test
// binary process with a bounded -benchtime; the parser for `go test -bench`
// output, standard and custom ReportMetric units; and the table it writes
// into a marked section of docs/PERFORMANCE.md, every row with its ratio to
// its peer. The Meter measures a benchmark's CPU and peak memory (its own
// process and the servers it started) in the units the runner reads.
package bench
