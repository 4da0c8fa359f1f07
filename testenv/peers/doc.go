// Package peers runs the products dray is measured against, for real and on
// the same machine, so benchmarks can state dray's figures side by side with
// theirs from the same run: mosquitto 2.0 (Debian) with persistence.
package peers
