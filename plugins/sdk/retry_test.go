package sdk

import (
	"context"
	"errors"
	"testing"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk/pluginpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// plainConnector has no optional ability.
type plainConnector struct{}

func (plainConnector) Info() Info                                  { return Info{Name: "plain", Version: "1"} }
func (plainConnector) Configure(context.Context, []byte) error     { return nil }
func (plainConnector) Read(context.Context, []byte, Emitter) error { return nil }

// retryConnector turns a payload naming a key into an event, "bad" into
// a reject, "invalid" into an invalid event and "fail" into an error.
type retryConnector struct {
	plainConnector
	t   *testing.T
	got Reject
}

func (c *retryConnector) Retry(_ context.Context, r Reject) (RetryResult, error) {
	c.got = r
	switch string(r.Payload) {
	case "bad":
		return RetryResult{Rejects: []Reject{{Code: "still_bad", Reason: "still bad", Ref: r.Ref, Payload: r.Payload}}}, nil
	case "invalid":
		ev := event(c.t, "k")
		ev.GetInventoryCounted().Counted = canonical.Qty("-1", "EA")
		return RetryResult{Events: []*canonical.Event{ev}}, nil
	case "fail":
		return RetryResult{}, errors.New("the source is gone")
	}
	return RetryResult{Events: []*canonical.Event{event(c.t, string(r.Payload))}}, nil
}

var _ Retrier = (*retryConnector)(nil)

func TestRetryRPC(t *testing.T) {
	ctx := context.Background()
	req := func(payload string) *pluginpb.RetryRequest {
		return &pluginpb.RetryRequest{Record: &pluginpb.Reject{Code: "json_syntax", Reason: "x", Ref: "f.jsonl:3", Payload: []byte(payload)}}
	}

	plain := &server{c: plainConnector{}, configured: true}
	if _, err := plain.Retry(ctx, req("a")); status.Code(err) != codes.Unimplemented {
		t.Errorf("retry on a connector without Retrier: %v; want Unimplemented", err)
	}

	c := &retryConnector{t: t}
	unconfigured := &server{c: c}
	if _, err := unconfigured.Retry(ctx, req("a")); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("retry before Configure: %v; want FailedPrecondition", err)
	}

	s := &server{c: c, configured: true}
	resp, err := s.Retry(ctx, req("k1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.got.Code != "json_syntax" || c.got.Ref != "f.jsonl:3" || string(c.got.Payload) != "k1" {
		t.Errorf("the connector got %+v", c.got)
	}
	if len(resp.GetEvents()) != 1 || len(resp.GetRejects()) != 0 {
		t.Fatalf("got %d events, %d rejects; want 1, 0", len(resp.GetEvents()), len(resp.GetRejects()))
	}
	ev, err := canonical.UnmarshalBinary(resp.GetEvents()[0])
	if err != nil || ev.GetInventoryCounted().GetSourceKey() != "k1" {
		t.Errorf("event %v, %v", ev, err)
	}

	resp, err = s.Retry(ctx, req("bad"))
	if err != nil || len(resp.GetEvents()) != 0 || len(resp.GetRejects()) != 1 || resp.GetRejects()[0].GetCode() != "still_bad" {
		t.Errorf("still bad: %v, %v", resp, err)
	}
	resp, err = s.Retry(ctx, req("invalid"))
	if err != nil || len(resp.GetEvents()) != 0 || len(resp.GetRejects()) != 1 || resp.GetRejects()[0].GetCode() != RejectInvalidEvent {
		t.Errorf("invalid event: %v, %v; want an %s reject", resp, err, RejectInvalidEvent)
	}
	if _, err := s.Retry(ctx, req("fail")); status.Code(err) != codes.Unknown {
		t.Errorf("failing retry: %v; want Unknown with the connector's message", err)
	}
}
