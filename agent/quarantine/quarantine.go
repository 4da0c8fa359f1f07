// Package quarantine is the agent's quarantine surface: the HTTP API the
// agent serves on its loopback status endpoint, and the client the
// `dray-agent quarantine ls|show|retry` commands use.
//
// The records themselves live in the spool (spool.QuarantineRecord,
// agent/spool/quarantine.go): they must be committed in the same Badger
// transaction as the batch and the cursor they came with, and the agent
// holds that database open while it runs. So the commands do not open the
// store; they ask the running agent:
//
//	GET  /quarantine[?source=&code=&after=&limit=]  List: summaries, oldest first, and counts
//	GET  /quarantine/{id}                           Record: one record with its payload
//	POST /quarantine/{id}/retry                     RetryRequest → RetryResponse
//
// A retry goes to the record's connector (supervisor.Retry): 200 with
// resolved=true when the record became events (committed, record removed,
// in one transaction); 422 with the updated record when it is still bad (an
// attempt is counted); 404 for an unknown id; 409 when no configured
// connector has the record's source name; 501 when the connector cannot
// retry (no sdk.Retrier); 503 when it is not running. Errors are
// {"error": "…"}.
//
// The endpoint must listen on loopback (the agent's configuration
// enforces it); the handlers also refuse non-loopback peers, and POST needs
// Content-Type application/json, which a browser cannot send to another
// origin without a preflight the agent never answers.
package quarantine

import (
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/agent/supervisor"
)

// Summary is a record in a listing: everything but the payload.
type Summary struct {
	ID           string    `json:"id"`
	Source       string    `json:"source"`
	Origin       string    `json:"origin"`
	Code         string    `json:"code"`
	Reason       string    `json:"reason"`
	Ref          string    `json:"ref"`
	PayloadBytes int       `json:"payload_bytes"`
	FirstSeen    time.Time `json:"first_seen"`
	LastSeen     time.Time `json:"last_seen"`
	Attempts     int       `json:"attempts"`
	LastAttempt  time.Time `json:"last_attempt,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
}

// SummaryOf summarises a record.
func SummaryOf(r spool.QuarantineRecord) Summary {
	return Summary{
		ID: r.ID, Source: r.Source, Origin: r.Origin, Code: r.Code, Reason: r.Reason, Ref: r.Ref,
		PayloadBytes: len(r.Payload), FirstSeen: r.FirstSeen, LastSeen: r.LastSeen,
		Attempts: r.Attempts, LastAttempt: r.LastAttempt, LastError: r.LastError,
	}
}

// List is the answer to GET /quarantine.
type List struct {
	// Total is the number of records in quarantine, all sources; Counts
	// splits it by source.
	Total  int64            `json:"total"`
	Counts map[string]int64 `json:"counts"`
	// Records are the page asked for, oldest first.
	Records []Summary `json:"records"`
	// Next, when set, is the after= of the next page.
	Next string `json:"next,omitempty"`
}

// Record is the answer to GET /quarantine/{id}: the record, its payload in
// base64 (payload) and, when it is UTF-8 text, as text (payload_text).
type Record struct {
	spool.QuarantineRecord
	PayloadText *string `json:"payload_text,omitempty"`
}

// RetryRequest is the body of POST /quarantine/{id}/retry; empty retries
// the record as stored.
type RetryRequest struct {
	// Payload (base64) or PayloadText replaces the record's payload for
	// this retry: an operator's correction. At most one of them.
	Payload     []byte  `json:"payload,omitempty"`
	PayloadText *string `json:"payload_text,omitempty"`
}

// RetryResponse is the answer to a retry that was attempted.
type RetryResponse struct {
	ID string `json:"id"`
	supervisor.RetryOutcome
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
}
