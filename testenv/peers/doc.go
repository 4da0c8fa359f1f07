// Package peers runs the products dray is measured against, for real and on
// the same machine, so benchmarks can state dray's figures side by side with
// theirs from the same run: mosquitto 2.0 (Debian) with persistence, and NATS
// JetStream (nats-server v2, file storage, the Makefile's pinned build) with
// its default lazy fsync or with an fsync on every write. Its benchmarks
// also measure the raw limits of this machine that dray's figures are bound
// by: the disk's fsync rate and loopback QUIC and TLS throughput (Badger's
// batched sync write is agent/spool's BenchmarkBadgerBatchedSyncWrite).
// testenv/bench runs them with the rest of the suite (make bench).
package peers
