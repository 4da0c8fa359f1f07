package refsink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client is the typed client tests and the chaos harness use to read a
// reference sink's ledger and turn its fault knobs at run time. It talks to
// the control endpoints only; business requests are the relay's job.
type Client struct {
	// BaseURL is the server's root, e.g. "http://127.0.0.1:8081".
	BaseURL string
	// HTTP is the client to use (nil: a client with a 10s timeout).
	HTTP *http.Client
	// AdminToken is sent as a bearer token when set (Config.AdminToken).
	AdminToken string
}

// NewClient returns a client for the server at baseURL.
func NewClient(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimSuffix(baseURL, "/"), HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.URL, e.Status, e.Body)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("refsink client: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := c.BaseURL + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("refsink client: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", contentTypeJSON)
	}
	if c.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("refsink client: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("refsink client: %s %s: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Method: method, URL: u, Status: resp.StatusCode, Body: string(b)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("refsink client: %s %s: decode: %w", method, u, err)
	}
	return nil
}

// Health checks GET /healthz.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil)
}

// WaitReady polls Health until it succeeds or ctx is done.
func (c *Client) WaitReady(ctx context.Context) error {
	for {
		err := c.Health(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("refsink not ready: %w (last: %w)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Ledger returns one page of records.
func (c *Client) Ledger(ctx context.Context, q LedgerQuery) (LedgerPage, error) {
	var p LedgerPage
	path := "/_ledger"
	if v := q.values().Encode(); v != "" {
		path += "?" + v
	}
	err := c.do(ctx, http.MethodGet, path, nil, &p)
	return p, err
}

// Records returns every committed record matching q (after q.After),
// following the pages.
func (c *Client) Records(ctx context.Context, q LedgerQuery) ([]Record, error) {
	if q.Limit == 0 {
		q.Limit = maxPage
	}
	var out []Record
	for {
		p, err := c.Ledger(ctx, q)
		if err != nil {
			return out, err
		}
		out = append(out, p.Records...)
		if !p.More || p.Next <= q.After {
			return out, nil
		}
		q.After = p.Next
	}
}

// Stats returns the ledger totals.
func (c *Client) Stats(ctx context.Context) (LedgerStats, error) {
	var s LedgerStats
	err := c.do(ctx, http.MethodGet, "/_ledger/stats", nil, &s)
	return s, err
}

// Faults returns the knobs in force.
func (c *Client) Faults(ctx context.Context) (Faults, error) {
	var f Faults
	err := c.do(ctx, http.MethodGet, "/_faults", nil, &f)
	return f, err
}

// SetFaults replaces the knobs (the zero Faults turns every fault off).
func (c *Client) SetFaults(ctx context.Context, f Faults) error {
	return c.do(ctx, http.MethodPut, "/_faults", f, nil)
}

// SetDown switches the Down toggle, keeping the other knobs. (Read, then
// write: do not race it with another SetFaults.)
func (c *Client) SetDown(ctx context.Context, down bool) error {
	f, err := c.Faults(ctx)
	if err != nil {
		return err
	}
	f.Down = down
	return c.SetFaults(ctx, f)
}

// FaultStats returns how often each fault fired.
func (c *Client) FaultStats(ctx context.Context) (FaultStats, error) {
	var s FaultStats
	err := c.do(ctx, http.MethodGet, "/_faults/stats", nil, &s)
	return s, err
}

// Token is an OAuth2 access token.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// Token fetches a token with the client-credentials grant
// (client_secret_basic).
func (c *Client) Token(ctx context.Context, clientID, secret string) (Token, error) {
	var t Token
	form := url.Values{"grant_type": {"client_credentials"}}
	u := c.BaseURL + "/oauth/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return t, fmt.Errorf("refsink client: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return t, fmt.Errorf("refsink client: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return t, fmt.Errorf("refsink client: token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return t, &StatusError{Method: http.MethodPost, URL: u, Status: resp.StatusCode, Body: string(b)}
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("refsink client: token: %w", err)
	}
	return t, nil
}
