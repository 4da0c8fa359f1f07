package sdk

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk/pluginpb"
)

// RejectInvalidEvent is the code of the Reject the SDK makes of an event that
// fails canonical.Validate; RejectUnencodable of one it cannot encode.
const (
	RejectInvalidEvent = "invalid_event"
	RejectUnencodable  = "event_unencodable"
)

// emitter is the Emitter of one Read stream.
type emitter struct {
	ctx    context.Context // the read's context
	stream pluginpb.ConnectorService_ReadServer

	emitMu sync.Mutex // serialises Emit
	seq    uint64     // guarded by emitMu

	sendMu sync.Mutex // serialises stream.Send (Emit and heartbeats)
	closed bool       // guarded by sendMu

	acked atomic.Uint64 // highest sequence the agent committed
	ackCh chan struct{} // signalled after each ack
}

var _ Emitter = (*emitter)(nil)

func newEmitter(ctx context.Context, stream pluginpb.ConnectorService_ReadServer) *emitter {
	return &emitter{ctx: ctx, stream: stream, ackCh: make(chan struct{}, 1)}
}

func (e *emitter) Emit(ctx context.Context, b Batch) error {
	msg, err := encodeBatch(b)
	if err != nil {
		return err
	}
	e.emitMu.Lock()
	defer e.emitMu.Unlock()
	e.seq++
	seq := e.seq
	msg.Seq = seq
	if err := e.send(&pluginpb.ReadResponse{Msg: &pluginpb.ReadResponse_Batch{Batch: msg}}); err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	if b.Pipelined {
		// This batch and PipelineDepth-1 earlier ones may stay unacknowledged.
		return e.awaitAck(ctx, seq-min(seq, PipelineDepth))
	}
	return e.awaitAck(ctx, seq)
}

// flush waits until the agent has committed every batch emitted.
func (e *emitter) flush(ctx context.Context) error {
	e.emitMu.Lock()
	defer e.emitMu.Unlock()
	return e.awaitAck(ctx, e.seq)
}

// awaitAck waits until the agent has committed batch seq (and so every
// batch before it).
func (e *emitter) awaitAck(ctx context.Context, seq uint64) error {
	for e.acked.Load() < seq {
		select {
		case <-e.ackCh:
		case <-ctx.Done():
			return fmt.Errorf("emit: waiting for the agent's commit: %w", ctx.Err())
		case <-e.ctx.Done():
			if cause := context.Cause(e.ctx); !errors.Is(cause, e.ctx.Err()) {
				return fmt.Errorf("emit: waiting for the agent's commit: %w (%w)", e.ctx.Err(), cause)
			}
			return fmt.Errorf("emit: waiting for the agent's commit: %w", e.ctx.Err())
		}
	}
	return nil
}

func (e *emitter) send(m *pluginpb.ReadResponse) error {
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	if e.closed {
		return errors.New("the read has ended")
	}
	return e.stream.Send(m)
}

// close makes later sends fail: a connector goroutine that outlives Read must
// not touch a finished stream.
func (e *emitter) close() {
	e.sendMu.Lock()
	e.closed = true
	e.sendMu.Unlock()
}

func (e *emitter) ack(seq uint64) {
	for {
		cur := e.acked.Load()
		if seq <= cur || e.acked.CompareAndSwap(cur, seq) {
			break
		}
	}
	select {
	case e.ackCh <- struct{}{}:
	default:
	}
}

// encodeChunk is the size of the buffers events are encoded into.
const encodeChunk = 256 << 10

// parallelValidateMin is the batch size from which events are validated and
// encoded on several cores.
const parallelValidateMin = 64

// encodeBatch validates and encodes a batch. Invalid events become rejects.
func encodeBatch(b Batch) (*pluginpb.Batch, error) {
	if len(b.Cursor) == 0 {
		return nil, errors.New("emit: the batch has no cursor (every batch carries the cursor after it)")
	}
	msg, err := encodeRecords("emit", b.Events, b.Rejects, len(b.Cursor), !b.Validated)
	if err != nil {
		return nil, err
	}
	msg.Cursor = b.Cursor
	return msg, nil
}

// encodeRecords validates (if validate) and encodes events (invalid ones
// become rejects) and converts rejects, for a batch or a retry; extra is
// the size of what else the message carries. op prefixes errors.
func encodeRecords(op string, events []*canonical.Event, rejects []Reject, extra int, validate bool) (*pluginpb.Batch, error) {
	b := Batch{Events: events, Rejects: rejects}
	for i, ev := range b.Events {
		if ev == nil {
			return nil, fmt.Errorf("%s: event %d is nil", op, i)
		}
	}
	for i, r := range b.Rejects {
		if r.Code == "" {
			return nil, fmt.Errorf("%s: reject %d (ref %q) has no code", op, i, r.Ref)
		}
	}

	encoded := make([][]byte, len(b.Events))
	rejected := make([]*pluginpb.Reject, len(b.Events))
	encodeRange := func(lo, hi int) {
		// One buffer for the range, sliced per event: a handful of
		// allocations per batch instead of one per event.
		var buf []byte
		for i := lo; i < hi; i++ {
			if n := b.Events[i].SizeVT(); cap(buf)-len(buf) < n {
				// A new chunk, sized for the rest of the range; the
				// events already in the old one keep it alive.
				buf = make([]byte, 0, min(encodeChunk, n*(hi-i)*5/4))
			}
			start := len(buf)
			buf, rejected[i] = appendEvent(buf, b.Events[i], validate)
			encoded[i] = buf[start:len(buf):len(buf)]
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(b.Events)/(parallelValidateMin/2))
	if !validate || workers <= 1 || len(b.Events) < parallelValidateMin {
		// Encoding alone (~0.5 µs an event) costs less than handing
		// the work to other goroutines.
		encodeRange(0, len(b.Events))
	} else {
		var wg sync.WaitGroup
		chunk := (len(b.Events) + workers - 1) / workers
		for lo := 0; lo < len(b.Events); lo += chunk {
			hi := min(lo+chunk, len(b.Events))
			wg.Go(func() { encodeRange(lo, hi) })
		}
		wg.Wait()
	}

	msg := &pluginpb.Batch{Events: make([][]byte, 0, len(encoded))}
	size := extra
	for i, buf := range encoded {
		if rejected[i] != nil {
			msg.Rejects = append(msg.Rejects, rejected[i])
			size += len(rejected[i].Payload) + len(rejected[i].Reason)
			continue
		}
		msg.Events = append(msg.Events, buf)
		size += len(buf)
	}
	for _, r := range b.Rejects {
		msg.Rejects = append(msg.Rejects, &pluginpb.Reject{Code: r.Code, Reason: r.Reason, Ref: r.Ref, Payload: r.Payload})
		size += len(r.Payload) + len(r.Reason) + len(r.Ref)
	}
	if size > MaxBatchBytes {
		return nil, fmt.Errorf("%s: the batch encodes to about %d bytes, over the %d-byte limit: emit smaller batches", op, size, MaxBatchBytes)
	}
	return msg, nil
}

// appendEvent appends the binary form of a valid event to buf, or returns
// buf unchanged and a reject; validate false trusts the event is valid.
func appendEvent(buf []byte, ev *canonical.Event, validate bool) ([]byte, *pluginpb.Reject) {
	if validate {
		if err := canonical.Validate(ev); err != nil {
			return buf, invalidEventReject(ev, err)
		}
	}
	out, err := canonical.AppendBinary(buf, ev)
	if err != nil {
		return buf, &pluginpb.Reject{Code: RejectUnencodable, Reason: err.Error(), Ref: eventRef(ev)}
	}
	return out, nil
}

// invalidEventReject quarantines an invalid event with every problem (path,
// message and code) and the event itself as JSON, so an operator can see,
// fix and retry it.
func invalidEventReject(ev *canonical.Event, err error) *pluginpb.Reject {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid %s event", ev.GetType())
	var ve *canonical.ValidationError
	if errors.As(err, &ve) {
		fmt.Fprintf(&b, ": %d problem(s): ", len(ve.Problems))
		for i, p := range ve.Problems {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(p.String())
		}
	} else {
		b.WriteString(": " + err.Error())
	}
	payload, jerr := canonical.MarshalJSON(ev)
	if jerr != nil {
		// The JSON encoder refuses some broken values; keep the event in
		// the binary codec then, so nothing is lost.
		payload, _ = canonical.MarshalBinary(ev)
		fmt.Fprintf(&b, " (payload in the binary codec: %v)", jerr)
	}
	return &pluginpb.Reject{Code: RejectInvalidEvent, Reason: b.String(), Ref: eventRef(ev), Payload: payload}
}

func eventRef(ev *canonical.Event) string {
	switch {
	case ev.GetSourceRef() != "":
		return ev.GetSourceRef()
	case ev.GetId() != "":
		return "event/" + ev.GetId()
	default:
		return ""
	}
}
