package sdk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/draylink/dray/plugins/sdk/pluginpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Heartbeat intervals the plugin accepts from the agent.
const (
	defaultHeartbeat = time.Second
	minHeartbeat     = 20 * time.Millisecond
)

var errShutdown = errors.New("plugin shutting down")

func (s *server) Info(context.Context, *pluginpb.InfoRequest) (*pluginpb.InfoResponse, error) {
	versions := make([]int32, len(s.info.APIVersions))
	for i, v := range s.info.APIVersions {
		versions[i] = int32(v)
	}
	return &pluginpb.InfoResponse{
		Name:        s.info.Name,
		Version:     s.info.Version,
		ApiVersions: versions,
		EventTypes:  s.info.EventTypes,
		Commands:    s.info.Commands,
	}, nil
}

func (s *server) Ping(context.Context, *pluginpb.PingRequest) (*pluginpb.PingResponse, error) {
	return &pluginpb.PingResponse{}, nil
}

func (s *server) Configure(ctx context.Context, req *pluginpb.ConfigureRequest) (*pluginpb.ConfigureResponse, error) {
	s.configMu.Lock()
	defer s.configMu.Unlock()
	if s.isConfigured() {
		return nil, status.Error(codes.FailedPrecondition, "configure: already configured; a new configuration needs a restart")
	}
	err := s.c.Configure(ctx, req.GetConfig())
	var ce *ConfigError
	switch {
	case err == nil:
		s.mu.Lock()
		s.configured = true
		s.mu.Unlock()
		return &pluginpb.ConfigureResponse{}, nil
	case errors.As(err, &ce):
		resp := &pluginpb.ConfigureResponse{}
		for _, f := range ce.Fields {
			resp.FieldErrors = append(resp.FieldErrors, &pluginpb.FieldError{Path: f.Path, Msg: f.Msg})
		}
		if len(resp.FieldErrors) == 0 {
			resp.FieldErrors = []*pluginpb.FieldError{{Msg: err.Error()}}
		}
		return resp, nil
	default:
		return nil, statusOf("configure", err)
	}
}

func (s *server) isConfigured() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.configured
}

func (s *server) Apply(ctx context.Context, req *pluginpb.ApplyRequest) (*pluginpb.ApplyResponse, error) {
	a, ok := s.c.(Applier)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "apply: the connector accepts no commands")
	}
	if !slices.Contains(s.info.Commands, req.GetType()) {
		return nil, status.Errorf(codes.InvalidArgument, "apply: the connector does not accept %q commands (it accepts %v)", req.GetType(), s.info.Commands)
	}
	if !s.isConfigured() {
		return nil, status.Error(codes.FailedPrecondition, "apply: not configured")
	}
	err := a.Apply(ctx, Command{ID: req.GetId(), Type: req.GetType(), Payload: req.GetPayload()})
	if err != nil {
		return nil, statusOf("apply "+req.GetId(), err)
	}
	return &pluginpb.ApplyResponse{}, nil
}

func (s *server) Retry(ctx context.Context, req *pluginpb.RetryRequest) (*pluginpb.RetryResponse, error) {
	r, ok := s.c.(Retrier)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "retry: the connector cannot retry quarantined records (no sdk.Retrier)")
	}
	if !s.isConfigured() {
		return nil, status.Error(codes.FailedPrecondition, "retry: not configured")
	}
	rec := req.GetRecord()
	res, err := r.Retry(ctx, Reject{Code: rec.GetCode(), Reason: rec.GetReason(), Ref: rec.GetRef(), Payload: rec.GetPayload()})
	if err != nil {
		return nil, statusOf("retry "+rec.GetRef(), err)
	}
	msg, err := encodeRecords("retry", res.Events, res.Rejects, 0, true)
	if err != nil {
		return nil, status.Error(codes.Aborted, err.Error())
	}
	return &pluginpb.RetryResponse{Events: msg.GetEvents(), Rejects: msg.GetRejects()}, nil
}

// statusOf turns a connector's error into a gRPC status the agent can show.
func statusOf(op string, err error) error {
	code := codes.Unknown
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, op+": "+err.Error())
}

// Read runs one read: it starts the connector's Read, relays its batches and
// the agent's acks, and sends heartbeats.
func (s *server) Read(stream pluginpb.ConnectorService_ReadServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return status.Error(codes.InvalidArgument, "read: the first message must be start")
	}
	if err := s.beginRead(); err != nil {
		return err
	}
	defer s.endRead()

	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	stopOnShutdown := context.AfterFunc(s.root, func() { cancel(errShutdown) })
	defer stopOnShutdown()

	em := newEmitter(ctx, stream)

	// Acks. This goroutine ends when the stream does, which is right after
	// this handler returns (gRPC cancels the stream's context then).
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				cancel(fmt.Errorf("the agent ended the read: %w", err))
				return
			}
			a := m.GetAck()
			if a == nil {
				cancel(errors.New("protocol error: the agent sent a second start"))
				return
			}
			em.ack(a.GetSeq())
		}
	}()

	interval := time.Duration(start.GetHeartbeatIntervalMs()) * time.Millisecond
	if interval == 0 {
		interval = defaultHeartbeat
	}
	interval = max(interval, minHeartbeat)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		hb := &pluginpb.ReadResponse{Msg: &pluginpb.ReadResponse_Heartbeat{Heartbeat: &pluginpb.Heartbeat{}}}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := em.send(hb); err != nil {
					cancel(err)
					return
				}
			}
		}
	})

	var cursor []byte
	if len(start.GetCursor()) > 0 {
		cursor = start.GetCursor()
	}
	err = s.c.Read(ctx, cursor, em)
	if err == nil {
		// Pipelined batches may still wait for their commit: the read
		// ends (and the agent sees its end) only after every one.
		err = em.flush(ctx)
	}
	cancel(nil)
	wg.Wait()
	em.close()
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			// Stopped by the agent (or by shutdown): not a connector failure.
			return status.Error(codes.Canceled, "read: "+context.Cause(ctx).Error())
		}
		return status.Error(codes.Aborted, "connector read: "+err.Error())
	}
	return nil
}

// readOverlap is how long a new Read waits for the previous one to finish
// returning (the agent stops a read and may start the next at once).
const readOverlap = 5 * time.Second

func (s *server) beginRead() error {
	deadline := time.Now().Add(readOverlap)
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.reading && time.Now().Before(deadline) {
		s.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		s.mu.Lock()
	}
	switch {
	case !s.configured:
		return status.Error(codes.FailedPrecondition, "read: not configured")
	case s.reading:
		return status.Error(codes.FailedPrecondition, "read: a read is already running")
	case s.root.Err() != nil:
		return status.Error(codes.Unavailable, "read: plugin shutting down")
	}
	s.reading = true
	return nil
}

func (s *server) endRead() {
	s.mu.Lock()
	s.reading = false
	s.mu.Unlock()
}
