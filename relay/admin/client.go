package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/siteca"
)

// Client calls the admin API; the dray-relay CLI commands are built on it.
type Client struct {
	// Base is the API's URL, e.g. http://127.0.0.1:8446.
	Base  string
	Token string
	// HTTP is the client to use (default: one with a 2-minute timeout).
	HTTP *http.Client
}

// APIError is an error answer of the API.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("admin API: HTTP %d: %s", e.Status, e.Message) }

// do calls the API and decodes a JSON answer into out; answers with a
// status in ok are successes (their body still decodes into out).
func (c *Client) do(ctx context.Context, method, path string, in, out any, ok ...int) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Base, "/")+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("admin API: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("admin API: %w", err)
	}
	good := resp.StatusCode >= 200 && resp.StatusCode < 300
	for _, s := range ok {
		good = good || resp.StatusCode == s
	}
	if !good {
		var e Error
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return resp.StatusCode, &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("admin API: decode answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}

// RawSinkStatus is GET /v1/sinks as a client sees it.
type RawSinkStatus struct {
	Name        string          `json:"name"`
	DeadLetters int             `json:"dead_letters"`
	Status      json.RawMessage `json:"status"`
}

// Sinks lists the sinks with their state.
func (c *Client) Sinks(ctx context.Context) ([]RawSinkStatus, error) {
	var out []RawSinkStatus
	_, err := c.do(ctx, http.MethodGet, "/v1/sinks", nil, &out)
	return out, err
}

// ListDLQ returns a page of a sink's dead letters.
func (c *Client) ListDLQ(ctx context.Context, sink, after string, limit int) (DLQPage, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out DLQPage
	_, err := c.do(ctx, http.MethodGet, "/v1/sinks/"+url.PathEscape(sink)+"/dlq?"+q.Encode(), nil, &out)
	return out, err
}

// ShowDLQ returns one dead letter.
func (c *Client) ShowDLQ(ctx context.Context, sink, id string) (DeadLetter, error) {
	var out DeadLetter
	_, err := c.do(ctx, http.MethodGet, "/v1/sinks/"+url.PathEscape(sink)+"/dlq/"+url.PathEscape(id), nil, &out)
	return out, err
}

// Redrive sends a dead letter again. A refusal (outcome dead) or a sink
// that kept failing (outcome failed) is a result, not an error.
func (c *Client) Redrive(ctx context.Context, sink, id string) (dispatch.RedriveResult, error) {
	var out dispatch.RedriveResult
	_, err := c.do(ctx, http.MethodPost, "/v1/sinks/"+url.PathEscape(sink)+"/dlq/"+url.PathEscape(id)+"/redrive", nil, &out,
		http.StatusUnprocessableEntity, http.StatusBadGateway)
	return out, err
}

// Discard removes a dead letter; reason goes to the audit line.
func (c *Client) Discard(ctx context.Context, sink, id, reason string) (DiscardResult, error) {
	var out DiscardResult
	_, err := c.do(ctx, http.MethodPost, "/v1/sinks/"+url.PathEscape(sink)+"/dlq/"+url.PathEscape(id)+"/discard",
		DiscardRequest{Reason: reason}, &out)
	return out, err
}

// StartReplay starts a replay job.
func (c *Client) StartReplay(ctx context.Context, sink string, req dispatch.ReplayRequest) (Job, error) {
	var out Job
	_, err := c.do(ctx, http.MethodPost, "/v1/sinks/"+url.PathEscape(sink)+"/replays", req, &out)
	return out, err
}

// Replay returns a replay job.
func (c *Client) Replay(ctx context.Context, id string) (Job, error) {
	var out Job
	_, err := c.do(ctx, http.MethodGet, "/v1/replays/"+url.PathEscape(id), nil, &out)
	return out, err
}

// WaitReplay polls a replay job until it is no longer running.
func (c *Client) WaitReplay(ctx context.Context, id string, every time.Duration) (Job, error) {
	for {
		j, err := c.Replay(ctx, id)
		if err != nil || j.State != JobRunning {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(every):
		}
	}
}

// Sites lists the sites of the registry with their sessions.
func (c *Client) Sites(ctx context.Context) ([]SiteStatus, error) {
	var out []SiteStatus
	_, err := c.do(ctx, http.MethodGet, "/v1/sites", nil, &out)
	return out, err
}

// AddSite issues an enrollment token for a site (ttl "" for the default).
func (c *Client) AddSite(ctx context.Context, site, ttl string) (AddSiteResult, error) {
	var out AddSiteResult
	_, err := c.do(ctx, http.MethodPost, "/v1/sites", AddSiteRequest{Site: site, TTL: ttl}, &out)
	return out, err
}

// RevokeSite revokes a site; its session is closed.
func (c *Client) RevokeSite(ctx context.Context, site, reason string) (siteca.Site, error) {
	var out siteca.Site
	_, err := c.do(ctx, http.MethodPost, "/v1/sites/"+url.PathEscape(site)+"/revoke", RevokeRequest{Reason: reason}, &out)
	return out, err
}
