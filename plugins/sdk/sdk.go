package sdk

import (
	"context"
	"errors"
	"strings"

	"github.com/draylink/dray/canonical"
)

// APIVersion is the version of the connector protocol this SDK speaks. It is
// negotiated in the go-plugin handshake; a connector lists the versions it
// supports in Info.APIVersions.
const APIVersion = 1

// Info describes a connector.
type Info struct {
	// Name identifies the connector, e.g. "example-counts". Required.
	Name string
	// Version is the connector's own version, e.g. "1.4.2". Required.
	Version string
	// APIVersions lists the SDK API versions the connector supports; it must
	// contain APIVersion.
	APIVersions []int
	// EventTypes lists the canonical event types the connector emits, e.g.
	// "logistics.inventory.counted" (see canonical.TypeNames).
	EventTypes []string
	// Commands lists the command types Apply accepts; empty unless the
	// connector implements Applier.
	Commands []string
}

// Connector is what a plugin implements. The SDK calls Info at any time,
// Configure once per process start, then Read; Read may be called again after
// it returned (the agent resumes from its last committed cursor), but never
// twice at once. Apply (see Applier) may run concurrently with Read.
type Connector interface {
	// Info describes the connector. It must be cheap and must not fail.
	Info() Info

	// Configure is called once per start, before Read, with the connector's
	// configuration (the YAML block from the agent config, as JSON). Strict:
	// unknown keys are errors; return *ConfigError listing every field
	// problem. ctx carries the agent's deadline.
	Configure(ctx context.Context, config []byte) error

	// Read produces from the source, starting after cursor (nil: from the
	// beginning or the connector's configured start), until ctx ends. It
	// calls out.Emit for each batch. ctx is cancelled when the agent stops
	// the plugin or the read; Read should then return promptly (within a
	// second or two). Returning nil means the source is exhausted; an error
	// is reported to the agent, which restarts the connector with backoff.
	// If Emit returns an error, Read must return: the batch may or may not
	// have been committed, and the agent restarts from the cursor it did
	// commit.
	Read(ctx context.Context, cursor []byte, out Emitter) error
}

// Emitter hands batches to the agent.
type Emitter interface {
	// Emit returns once the agent has durably committed the batch's events,
	// rejects and cursor together (so a connector may then archive a file);
	// it blocks while the agent applies backpressure. A batch marked
	// Pipelined returns as soon as it is sent instead (see Batch). Calls are
	// serialised: concurrent calls wait their turn. b.Cursor must not be
	// empty. Invalid events become Rejects (code "invalid_event"); an error
	// means the batch (or an earlier pipelined one) was not acknowledged
	// and Read must return.
	Emit(ctx context.Context, b Batch) error
}

// Batch is one unit of progress: events, rejects and the source cursor after
// them, committed by the agent in one transaction.
type Batch struct {
	Events  []*canonical.Event
	Rejects []Reject
	// Cursor is the position after the last record this batch covers.
	Cursor []byte
	// Validated says every event was returned by canonical.NewEvent (which
	// validates it) and not changed since, so Emit does not validate them
	// a second time; otherwise Emit validates each event and turns an
	// invalid one into a Reject (RejectInvalidEvent). The agent validates
	// every event it receives either way: an invalid event in a batch
	// marked Validated is quarantined there, not stored.
	Validated bool
	// Pipelined lets Emit return once the batch is sent, before the agent
	// has committed it, while at most PipelineDepth batches wait for their
	// commit: the connector reads its next batch while the agent stores
	// this one. The agent commits batches in order and stops at the first
	// it cannot commit, so nothing is skipped: the failure shows in a later
	// Emit or when Read returns (the SDK ends a Read only once every batch
	// is committed), and the next Read starts from the last committed
	// cursor. A batch after which the connector acts on the source
	// (archiving a file, deleting a row) must not be pipelined.
	Pipelined bool
}

// PipelineDepth is how many pipelined batches may wait for the agent's
// commit at a time.
const PipelineDepth = 4

// Reject is a source record that could not become a valid event. The agent
// quarantines it with its reason; the line goes on.
type Reject struct {
	// Code is stable and machine-readable, e.g. "csv_field_count". Required.
	Code string
	// Reason explains the problem to a human.
	Reason string
	// Ref locates the record: "file:line:col", "table/pk", …
	Ref string
	// Payload is the offending record, when there is one.
	Payload []byte
}

// Applier is an optional ability: a connector that accepts downlink commands
// (an order release to insert into the WMS, a file to write) implements it
// and lists the command types in Info.Commands.
type Applier interface {
	// Apply executes one command. It may run concurrently with Read. The
	// agent applies each command id once, but a crash between Apply and the
	// agent's record of it repeats the call: make Apply idempotent by
	// cmd.ID (e.g. a unique key on the command id in the target table).
	Apply(ctx context.Context, cmd Command) error
}

// Command is one downlink command.
type Command struct {
	// ID is unique per command.
	ID string
	// Type is one of Info.Commands.
	Type string
	// Payload is the command in canonical JSON.
	Payload []byte
}

// Retrier is an optional ability: a connector that can re-process one
// record it (or the agent) quarantined earlier implements it. An operator
// asks for a retry after fixing the cause — the connector's configuration,
// the source, or the record itself (the payload may come back corrected).
type Retrier interface {
	// Retry turns r back into events with the connector's current
	// configuration, reading r.Payload (and, if the connector wants, the
	// source at r.Ref). It may run concurrently with Read, never before a
	// successful Configure. Return the events the record gives, or a
	// Reject saying why it is still bad (the agent keeps the record and
	// counts the attempt); an error is a failed attempt too. The events must
	// have the ids a normal read would give them. ctx carries the agent's
	// call deadline.
	Retry(ctx context.Context, r Reject) (RetryResult, error)
}

// RetryResult is what a retry produced. The SDK validates the events as
// Emit does (an invalid one becomes a Reject). The agent commits the events
// and removes the quarantine record in one transaction only when there are
// events and no rejects.
type RetryResult struct {
	Events  []*canonical.Event
	Rejects []Reject
}

// ErrUnsupported is returned by the agent side when a connector does not
// accept a command type (or no commands at all).
var ErrUnsupported = errors.New("command not supported by the connector")

// ErrNoRetry is returned by the agent side when a connector does not
// implement Retrier.
var ErrNoRetry = errors.New("the connector cannot retry quarantined records (it does not implement sdk.Retrier)")

// ConfigError lists every problem found in a configuration.
type ConfigError struct {
	Fields []FieldError
}

// FieldError is one problem with one configuration field.
type FieldError struct {
	// Path locates the field, e.g. "dir" or "columns[2].name"; empty for the
	// configuration as a whole.
	Path string
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	if len(e.Fields) == 0 {
		b.WriteString("(no details)")
	}
	return b.String()
}

func (f FieldError) String() string {
	if f.Path == "" {
		return f.Msg
	}
	return f.Path + ": " + f.Msg
}
