package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk"
	"github.com/draylink/dray/plugins/sdk/pluginpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RejectUndecodable is the code of the reject pluginhost makes of an event
// that is not a decodable canonical event with an id (a plugin not built on
// the SDK may send one).
const RejectUndecodable = "event_undecodable"

// HostBatch is one batch from the plugin, to be committed by the caller
// together with its cursor.
type HostBatch struct {
	// Seq numbers the batches of one Read: 1, 2, 3 …
	Seq uint64
	// Events are canonical events in the binary codec as the plugin sent
	// them (validated by the SDK; a plugin not built on it may send
	// anything): the caller must decode and check each one.
	Events [][]byte
	// Rejects are records (or events) to quarantine.
	Rejects []sdk.Reject
	// Cursor is the source position after this batch; never empty.
	Cursor []byte
}

// Info asks the connector to describe itself.
func (p *Plugin) Info(ctx context.Context) (sdk.Info, error) {
	var resp *pluginpb.InfoResponse
	err := p.call(ctx, "info", func(ctx context.Context) (err error) {
		resp, err = p.rpc.Info(ctx, &pluginpb.InfoRequest{})
		return err
	})
	if err != nil {
		return sdk.Info{}, err
	}
	info := sdk.Info{
		Name:       resp.GetName(),
		Version:    resp.GetVersion(),
		EventTypes: resp.GetEventTypes(),
		Commands:   resp.GetCommands(),
	}
	for _, v := range resp.GetApiVersions() {
		info.APIVersions = append(info.APIVersions, int(v))
	}
	return info, nil
}

// Configure passes the connector its configuration (JSON). Field problems
// come back as *sdk.ConfigError.
func (p *Plugin) Configure(ctx context.Context, config []byte) error {
	var resp *pluginpb.ConfigureResponse
	err := p.call(ctx, "configure", func(ctx context.Context) (err error) {
		resp, err = p.rpc.Configure(ctx, &pluginpb.ConfigureRequest{Config: config})
		return err
	})
	if err != nil {
		return err
	}
	if fe := resp.GetFieldErrors(); len(fe) > 0 {
		ce := &sdk.ConfigError{}
		for _, f := range fe {
			ce.Fields = append(ce.Fields, sdk.FieldError{Path: f.GetPath(), Msg: f.GetMsg()})
		}
		return ce
	}
	return nil
}

// Apply executes one downlink command. A connector that does not accept the
// command's type gives an error wrapping sdk.ErrUnsupported.
func (p *Plugin) Apply(ctx context.Context, cmd sdk.Command) error {
	return p.call(ctx, "apply "+cmd.ID, func(ctx context.Context) error {
		_, err := p.rpc.Apply(ctx, &pluginpb.ApplyRequest{Id: cmd.ID, Type: cmd.Type, Payload: cmd.Payload})
		return err
	})
}

// RetryResult is what a connector's retry of one quarantined record gave.
type RetryResult struct {
	// Events are canonical events in the binary codec, checked to decode
	// far enough to have an id (retries are rare; their events are
	// checked again by the caller all the same).
	Events [][]byte
	// Rejects say why the record (or an event made of it) is still bad.
	Rejects []sdk.Reject
}

// Retry asks the connector to re-process one quarantined record (see
// sdk.Retrier), under CallTimeout. A connector without the ability gives an
// error wrapping sdk.ErrNoRetry; other failures are classified as for any
// call (ErrConnector, ErrCrashed, ...).
func (p *Plugin) Retry(ctx context.Context, r sdk.Reject) (RetryResult, error) {
	var resp *pluginpb.RetryResponse
	err := p.call(ctx, "retry", func(ctx context.Context) (err error) {
		resp, err = p.rpc.Retry(ctx, &pluginpb.RetryRequest{Record: &pluginpb.Reject{
			Code: r.Code, Reason: r.Reason, Ref: r.Ref, Payload: r.Payload,
		}})
		return err
	})
	if errors.Is(err, sdk.ErrUnsupported) {
		return RetryResult{}, fmt.Errorf("retry: %w", sdk.ErrNoRetry)
	}
	if err != nil {
		return RetryResult{}, err
	}
	var res RetryResult
	for i, ev := range resp.GetEvents() {
		if _, err := canonical.PeekIdentity(ev); err != nil {
			res.Rejects = append(res.Rejects, sdk.Reject{
				Code:    RejectUndecodable,
				Reason:  fmt.Sprintf("event %d of the retry of %s: %v", i, r.Ref, err),
				Ref:     r.Ref,
				Payload: ev,
			})
			continue
		}
		res.Events = append(res.Events, ev)
	}
	for _, rj := range resp.GetRejects() {
		res.Rejects = append(res.Rejects, sdk.Reject{Code: rj.GetCode(), Reason: rj.GetReason(), Ref: rj.GetRef(), Payload: rj.GetPayload()})
	}
	return res, nil
}

// Ping checks the plugin answers.
func (p *Plugin) Ping(ctx context.Context) error {
	return p.call(ctx, "ping", func(ctx context.Context) error {
		_, err := p.rpc.Ping(ctx, &pluginpb.PingRequest{})
		return err
	})
}

// call runs one unary RPC under CallTimeout and classifies its error.
func (p *Plugin) call(ctx context.Context, op string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		return p.rpcError(ctx, op, err)
	}
	return nil
}

// rpcError explains a failed call: the process died (crash or kill), the
// caller's context ended, the connector failed, or the transport did.
func (p *Plugin) rpcError(ctx context.Context, op string, err error) error {
	if p.isKilled() {
		return fmt.Errorf("%s: %w", op, ErrKilled)
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.Unavailable, codes.Canceled, codes.Internal, codes.DeadlineExceeded:
		// A dead process shows as a broken transport a little before
		// go-plugin has reaped it.
		select {
		case <-p.exited:
		case <-time.After(exitWait):
		}
	}
	if p.Exited() {
		return p.exitError(op)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	switch st.Code() {
	case codes.Unimplemented:
		return fmt.Errorf("%s: %w: %s", op, sdk.ErrUnsupported, st.Message())
	case codes.InvalidArgument:
		if strings.HasPrefix(op, "apply") {
			return fmt.Errorf("%s: %w: %s", op, sdk.ErrUnsupported, st.Message())
		}
	case codes.Unknown, codes.Aborted, codes.FailedPrecondition:
		return fmt.Errorf("%s: %w: %s", op, ErrConnector, st.Message())
	}
	return fmt.Errorf("%s: %w", op, err)
}

// exitWait is how long a broken transport waits for the process's exit to
// be noticed before it is reported as a transport error.
const exitWait = 3 * time.Second

func (p *Plugin) isKilled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// exitError reports an exited process: killed on purpose, or crashed (with
// its exit status).
func (p *Plugin) exitError(op string) error {
	if p.isKilled() {
		return fmt.Errorf("%s: %w", op, ErrKilled)
	}
	state := "unknown status"
	if ps := p.cmd.ProcessState; ps != nil {
		state = ps.String()
	}
	return fmt.Errorf("%s: %w (%s)", op, ErrCrashed, state)
}

// Read streams batches from the connector, starting after cursor (nil: from
// the beginning). For each batch it calls handle, which commits the batch's
// events, rejects and cursor together; when handle returns nil the batch is
// acknowledged and the plugin's Emit returns. An error from handle ends the
// read (unacknowledged) and is returned.
//
// Read returns nil when the connector's Read returned nil; otherwise an error
// wrapping ErrCrashed (the process died), ErrHung (no heartbeat for
// HeartbeatTimeout: the plugin has been killed), ErrKilled, ErrConnector (the
// connector's Read failed), ErrProtocol, or ctx's error. One Read at a time.
func (p *Plugin) Read(ctx context.Context, cursor []byte, handle func(ctx context.Context, b HostBatch) error) error {
	// The stream outlives ctx a little: when ctx ends, Read half-closes the
	// stream so the connector's Read sees its context cancelled and returns,
	// and the plugin is ready for the next Read; only after stopGrace is the
	// stream cut.
	streamCtx, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	stream, err := p.rpc.Read(streamCtx)
	if err != nil {
		return p.rpcError(ctx, "read", err)
	}
	interval := p.cfg.HeartbeatTimeout / 4
	start := &pluginpb.ReadRequest{Msg: &pluginpb.ReadRequest_Start{Start: &pluginpb.Start{
		Cursor:              cursor,
		HeartbeatIntervalMs: uint32(max(interval.Milliseconds(), 1)),
	}}}
	if err := stream.Send(start); err != nil {
		return p.streamError(ctx, stream, err)
	}

	var (
		sendMu   sync.Mutex   // acks (this goroutine) and the half-close (stopRead)
		lastSeen atomic.Int64 // unix nanoseconds of the last message
		busy     atomic.Bool  // a batch is being handled: the plugin waits for us
		hung     atomic.Bool  // the watchdog killed the plugin
		wg       sync.WaitGroup
	)
	// stopRead half-closes the stream and cuts it after stopGrace, unless
	// it has ended by then. Its timer goroutine ends at the latest when Read
	// returns (the deferred cut).
	stopRead := func() {
		sendMu.Lock()
		_ = stream.CloseSend()
		sendMu.Unlock()
		go func() {
			select {
			case <-streamCtx.Done():
			case <-time.After(stopGrace):
				p.log.Warn("connector did not end its read in time after being stopped", "grace", stopGrace)
				cut()
			}
		}()
	}
	stopOnCancel := context.AfterFunc(ctx, stopRead)
	defer stopOnCancel()

	// The watchdog: silence beyond HeartbeatTimeout, while the plugin is not
	// waiting for us, means it hangs.
	lastSeen.Store(time.Now().UnixNano())
	wg.Go(func() {
		t := time.NewTicker(max(interval, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-streamCtx.Done():
				return
			case <-t.C:
			}
			silent := time.Since(time.Unix(0, lastSeen.Load()))
			if !busy.Load() && silent > p.cfg.HeartbeatTimeout {
				hung.Store(true)
				p.log.Error("plugin stopped heartbeating; killing it", "silent", silent.Round(time.Millisecond))
				p.killHung()
				cut()
				return
			}
		}
	})
	defer wg.Wait()
	defer cut() // runs before wg.Wait

	// The loop receives on this goroutine: no hand-over per batch.
	next := uint64(1)
	for {
		m, err := stream.Recv()
		if err != nil {
			switch {
			case hung.Load():
				silent := time.Since(time.Unix(0, lastSeen.Load())).Round(time.Millisecond)
				return fmt.Errorf("read: %w (silent for %s)", ErrHung, silent)
			case ctx.Err() != nil:
				return fmt.Errorf("read: %w", ctx.Err())
			case errors.Is(err, io.EOF):
				return nil // the connector's Read returned nil
			}
			return p.rpcError(ctx, "read", err)
		}
		lastSeen.Store(time.Now().UnixNano())
		b := m.GetBatch()
		if b == nil || ctx.Err() != nil {
			// A heartbeat; or the read is stopping, and later batches are
			// dropped unacknowledged (the plugin's Emit fails; nothing is
			// lost: the next Read starts from the last committed cursor).
			continue
		}
		busy.Store(true)
		hb, err := p.hostBatch(b, next)
		if err != nil {
			p.log.Error("killing plugin: protocol error", "error", err)
			p.Kill()
			return fmt.Errorf("read: %w", err)
		}
		if err := handle(ctx, hb); err != nil {
			busy.Store(false)
			stopRead()
			for {
				if _, rerr := stream.Recv(); rerr != nil {
					break
				}
			}
			return fmt.Errorf("read: handle batch %d: %w", hb.Seq, err)
		}
		ack := &pluginpb.ReadRequest{Msg: &pluginpb.ReadRequest_Ack{Ack: &pluginpb.Ack{Seq: hb.Seq}}}
		sendMu.Lock()
		err = stream.Send(ack)
		sendMu.Unlock()
		lastSeen.Store(time.Now().UnixNano())
		busy.Store(false)
		if err != nil {
			if ctx.Err() != nil {
				continue // half-closed by stopRead; the stream's end follows
			}
			return p.streamError(ctx, stream, err)
		}
		next++
	}
}

// stopGrace is how long a stopped Read waits for the connector to end it.
const stopGrace = 5 * time.Second

// streamError classifies the end of a Read stream. A Send failure hides the
// real status, which RecvMsg returns.
func (p *Plugin) streamError(ctx context.Context, stream pluginpb.ConnectorService_ReadClient, err error) error {
	if errors.Is(err, io.EOF) {
		var m pluginpb.ReadResponse
		if rerr := stream.RecvMsg(&m); rerr != nil && !errors.Is(rerr, io.EOF) {
			err = rerr
		}
	}
	return p.rpcError(ctx, "read", err)
}

// hostBatch checks a batch and converts it. Events that do not decode far
// enough to show an id become rejects: nothing is dropped.
func (p *Plugin) hostBatch(b *pluginpb.Batch, want uint64) (HostBatch, error) {
	if b.GetSeq() != want {
		return HostBatch{}, fmt.Errorf("%w: batch sequence %d, want %d", ErrProtocol, b.GetSeq(), want)
	}
	if len(b.GetCursor()) == 0 {
		return HostBatch{}, fmt.Errorf("%w: batch %d has no cursor", ErrProtocol, want)
	}
	// The events are passed on as the plugin sent them: the caller decodes
	// and checks every one (the agent's supervisor does, and quarantines
	// one that does not decode), so a walk here would only repeat it.
	hb := HostBatch{Seq: want, Cursor: b.GetCursor(), Events: b.GetEvents()}
	for _, r := range b.GetRejects() {
		hb.Rejects = append(hb.Rejects, sdk.Reject{Code: r.GetCode(), Reason: r.GetReason(), Ref: r.GetRef(), Payload: r.GetPayload()})
	}
	return hb, nil
}
