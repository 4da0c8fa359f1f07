//go:build unix

package pluginhost_test

import (
	"context"
	"errors"
	"testing"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
	"github.com/draylink/dray/plugins/pluginhost/internal/testevents"
	"github.com/draylink/dray/plugins/sdk"
)

func TestRetryIntegration(t *testing.T) {
	ctx := context.Background()
	p, _ := startTestConnector(t, pluginhost.Config{}, `{"events": 1}`)

	res, err := p.Retry(ctx, sdk.Reject{Code: "json_syntax", Ref: "counts.jsonl:7", Payload: []byte("7")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 1 || len(res.Rejects) != 0 {
		t.Fatalf("retry gave %d events, %d rejects; want 1, 0", len(res.Events), len(res.Rejects))
	}
	ev, err := canonical.UnmarshalBinary(res.Events[0])
	if err != nil || ev.GetId() != testevents.Count(7).GetId() {
		t.Errorf("retry event %v (%v); want test event 7", ev, err)
	}

	res, err = p.Retry(ctx, sdk.Reject{Code: "json_syntax", Ref: "counts.jsonl:8", Payload: []byte("eight")})
	if err != nil || len(res.Events) != 0 || len(res.Rejects) != 1 || res.Rejects[0].Code != "not_an_index" || res.Rejects[0].Ref != "counts.jsonl:8" {
		t.Errorf("retry of a still-bad record: %+v, %v; want one not_an_index reject", res, err)
	}

	plain, _ := startTestConnector(t, pluginhost.Config{Env: []string{"TESTCONNECTOR_NO_RETRY=1"}}, `{"events": 1}`)
	_, err = plain.Retry(ctx, sdk.Reject{Code: "json_syntax", Payload: []byte("7")})
	if !errors.Is(err, sdk.ErrNoRetry) {
		t.Errorf("retry on a connector without Retrier: %v; want sdk.ErrNoRetry", err)
	}
}
