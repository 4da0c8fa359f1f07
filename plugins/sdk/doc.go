// Package sdk is the public SDK for dray connector plugins: the only package,
// with canonical, that a connector author imports.
//
// A connector is a small program that reads one kind of source (a WMS
// database, a file drop, a message queue) and turns what changed into
// canonical logistics events. The dray agent runs it as a separate process,
// talks to it over gRPC (hashicorp/go-plugin, mutual TLS), commits every batch
// it emits together with the source cursor after that batch, and restarts it
// from the last committed cursor when it crashes. A connector therefore keeps
// no state of its own: the cursor is its memory.
//
// Writing one takes three methods and a main:
//
//	type counts struct{ cfg config }
//
//	func (c *counts) Info() sdk.Info { … }
//	func (c *counts) Configure(ctx context.Context, raw []byte) error { … sdk.DecodeConfig(raw, &c.cfg) … }
//	func (c *counts) Read(ctx context.Context, cursor []byte, out sdk.Emitter) error {
//		for ctx.Err() == nil {
//			events, rejects, next := c.poll(cursor)
//			if err := out.Emit(ctx, sdk.Batch{Events: events, Rejects: rejects, Cursor: next}); err != nil {
//				return err
//			}
//			cursor = next // committed: safe to archive what it covers
//		}
//		return nil
//	}
//
//	func main() { sdk.Serve(&counts{}) }
//
// The contract, in short (docs/connectors.md has the long form):
//
//   - Cursor: opaque bytes the connector defines. Read(ctx, cursor, out) starts
//     right after the records cursor covers; nil means "from the beginning (or
//     the configured start)". Every batch carries the cursor after it, never
//     empty.
//   - Emit returns only when the agent has durably committed the batch's
//     events, rejects and cursor in one transaction. It blocks while the agent
//     applies backpressure. After it returns the connector may delete or
//     archive what the batch covered; before, it must not. A batch marked
//     Pipelined returns once sent instead, with at most PipelineDepth batches
//     awaiting their commit (for connectors that do nothing after a commit).
//   - Identity: build events with canonical.NewEvent, whose id is
//     canonical.EventID(site, source, record key, record version). Re-reading
//     the same record must yield the same id: that is how a crash between a
//     read and a commit cannot create a duplicate.
//   - Bad input: a record that cannot become a valid event is a Reject with a
//     stable code and a reference, never a silent skip and never a reason to
//     stop. The SDK validates every event before sending it and turns an
//     invalid one into a Reject (code "invalid_event") listing every problem.
//   - Configuration is strict: unknown keys are errors, and Configure returns a
//     *ConfigError listing every problem (DecodeConfig does the decoding part).
//   - Logging: Logger writes to stderr in the agent's format. Never write to
//     stdout: go-plugin uses it for the handshake.
//   - Optional abilities are one-method interfaces: Applier (downlink
//     commands) and Retrier (re-process a quarantined record on an
//     operator's request, after the cause was fixed).
//
// Serve runs the plugin side of the protocol: handshake, gRPC server,
// heartbeats, validation, and a watch on the parent process so a connector
// never outlives the agent.
package sdk
