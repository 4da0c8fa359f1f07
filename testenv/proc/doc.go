// Package proc runs the programs of a dray stack as child processes for
// tests, the demo and the chaos harness: it builds them (one `go build` of
// the module's main packages), starts them with their output in a log file,
// stops them with SIGTERM (and SIGKILL after a deadline) or kills them, and
// restarts them with the same command line. Children run in their own
// process group and die with their parent (Pdeathsig), so no child outlives
// the program that started it. It also hands out free loopback ports.
package proc
