package quarantine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Client talks to a running agent's quarantine API.
type Client struct {
	// Base is the agent's status endpoint, e.g. "http://127.0.0.1:7070".
	Base string
	// HTTP is the client to use (default: one with a 60 s timeout).
	HTTP *http.Client
}

// APIError is an error answer of the API.
type APIError struct {
	Status int
	Msg    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("agent answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

// Filter selects the records List returns (see spool.QuarantineFilter).
type Filter struct {
	Source, Code, After string
	Limit               int
}

// List returns a page of records.
func (c *Client) List(ctx context.Context, f Filter) (List, error) {
	q := url.Values{}
	for k, v := range map[string]string{"source": f.Source, "code": f.Code, "after": f.After} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/quarantine"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out List
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

// Show returns one record.
func (c *Client) Show(ctx context.Context, id string) (Record, error) {
	var out Record
	_, err := c.do(ctx, http.MethodGet, "/quarantine/"+url.PathEscape(id), nil, &out)
	return out, err
}

// Retry asks the agent to retry a record. A retry that was attempted
// returns its outcome and a nil error, whether it resolved the record or
// not; the error is for a retry that could not be attempted (*APIError) or
// a failed call.
func (c *Client) Retry(ctx context.Context, id string, req RetryRequest) (RetryResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return RetryResponse{}, err
	}
	var out RetryResponse
	status, err := c.do(ctx, http.MethodPost, "/quarantine/"+url.PathEscape(id)+"/retry", body, &out)
	var ae *APIError
	if errors.As(err, &ae) && status == http.StatusUnprocessableEntity {
		return out, nil
	}
	return out, err
}

// do makes one call; it decodes a 2xx (or 422) answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ask the agent (is it running, with status.listen set?): %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	ok := resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusUnprocessableEntity
	if ok {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode the agent's answer: %w", err)
		}
	}
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, nil
	}
	var e ErrorResponse
	if json.Unmarshal(raw, &e) != nil || e.Error == "" {
		e.Error = string(bytes.TrimSpace(raw))
	}
	return resp.StatusCode, &APIError{Status: resp.StatusCode, Msg: e.Error}
}
