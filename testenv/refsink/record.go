package refsink

import (
	"encoding/json"
	"time"
)

// Outcome is what a server did with one request (or one batch item).
type Outcome string

// Outcomes. Only OutcomeApplied is an application; the others are refusals
// kept so a test can count them.
const (
	// OutcomeApplied: validated and applied, first time for its key.
	OutcomeApplied Outcome = "applied"
	// OutcomeDuplicate: the key was applied before with the same body; the
	// original response was replayed and nothing was applied.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeConflict: the key was applied before with a different body;
	// refused with 422 (idempotency-key-reused).
	OutcomeConflict Outcome = "conflict"
	// OutcomeRejected: refused as invalid (400, 413, 415 or 422); the key is
	// not bound, so a corrected request under the same key may apply.
	OutcomeRejected Outcome = "rejected"
)

// Record is one line of the ledger (ledger.jsonl in the data directory).
type Record struct {
	// Seq numbers records from 1 without gaps, in the order they were
	// committed, which is the order requests reached the apply step.
	Seq uint64 `json:"seq"`
	// Time is when the record was made (server clock, UTC).
	Time time.Time `json:"time"`
	// Kind is erp or tms; Resource the resource applied to (e.g.
	// goods-movements); Path its path (for a batch item, the resource
	// path, not the batch path).
	Kind     Kind   `json:"kind"`
	Resource string `json:"resource"`
	Path     string `json:"path"`
	// Format is how the item arrived: json, cloudevents (structured mode),
	// cloudevents-batch, batch (a …:batch array) or json-batch
	// (/erp/v1/batch, /tms/v1/batch).
	Format string `json:"format"`
	// Batch is the seq of the first record of the batch request an item
	// came in (0 for a single request), BatchIndex its position.
	Batch      uint64 `json:"batch,omitempty"`
	BatchIndex int    `json:"batchIndex,omitempty"`

	Outcome Outcome `json:"outcome"`
	// Status is the HTTP status answered for this request or item.
	Status int `json:"status"`
	// Key is the Idempotency-Key (for CloudEvents batch items, the event's
	// idempotencykey attribute, else its id).
	Key string `json:"key,omitempty"`
	// EventID is the ce-id header, the CloudEvents id attribute, or the
	// top-level "eventId" field of a plain JSON body (in that order).
	EventID   string `json:"eventId,omitempty"`
	EventType string `json:"eventType,omitempty"`
	// EventTime is the CloudEvents time attribute (occurrence time).
	EventTime *time.Time `json:"eventTime,omitempty"`
	// Site is the dray-site header or the CloudEvents siteid attribute.
	Site          string `json:"site,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	Traceparent   string `json:"traceparent,omitempty"`
	// PartitionKey is the ordering scope: the dray-partition-key header or
	// the CloudEvents partitionkey attribute, else shipment/<id> for
	// milestones. PartitionSeq counts the applied records of that key in
	// arrival order (1, 2, …), so "in order per key" can be checked.
	PartitionKey string `json:"partitionKey,omitempty"`
	PartitionSeq uint64 `json:"partitionSeq,omitempty"`
	// Principal is who authenticated: "oauth2:<client>", "bearer",
	// "apikey", "mtls:<subject>" or "" (no auth configured).
	Principal string `json:"principal,omitempty"`
	// BodySHA256 is the hex SHA-256 of the compacted JSON body (the item for
	// batches). The idempotency fingerprint is (Path, BodySHA256).
	BodySHA256 string `json:"bodySha256,omitempty"`
	// Original is the Seq of the applied record a duplicate or conflict
	// refers to.
	Original uint64 `json:"original,omitempty"`
	// DocumentID is the id the sink gave an applied item.
	DocumentID string `json:"documentId,omitempty"`
	// ResponseDropped: the apply-then-drop fault closed the connection
	// instead of sending this response.
	ResponseDropped bool `json:"responseDropped,omitempty"`
	// Problems are the codes of a rejection ("/quantity: required").
	Problems []string `json:"problems,omitempty"`
	// Response is the body answered (applied records only; replayed to
	// duplicates).
	Response json.RawMessage `json:"response,omitempty"`
	// Body is the compacted request body when Config.RecordBodies is on.
	Body json.RawMessage `json:"body,omitempty"`
}

// LedgerQuery filters GET /_ledger. Zero fields do not filter.
type LedgerQuery struct {
	Resource     string
	Site         string
	Key          string
	EventID      string
	PartitionKey string
	Outcome      Outcome
	// Since keeps records made at or after this time.
	Since time.Time
	// After is the pagination cursor: records with Seq > After.
	After uint64
	// Limit caps the page (default 1000, at most 10000).
	Limit int
}

// LedgerPage is one page of GET /_ledger.
type LedgerPage struct {
	Records []Record `json:"records"`
	// Next is the cursor for the next page (pass it as After): the last
	// record scanned, matching or not.
	Next uint64 `json:"next"`
	// More reports that records after Next were committed when the page was
	// read.
	More bool `json:"more"`
}

// Counts are per-outcome totals.
type Counts struct {
	Applied    uint64 `json:"applied"`
	Duplicates uint64 `json:"duplicates"`
	Conflicts  uint64 `json:"conflicts"`
	Rejected   uint64 `json:"rejected"`
}

func (c *Counts) add(o Outcome) {
	switch o {
	case OutcomeApplied:
		c.Applied++
	case OutcomeDuplicate:
		c.Duplicates++
	case OutcomeConflict:
		c.Conflicts++
	case OutcomeRejected:
		c.Rejected++
	}
}

// LedgerStats is GET /_ledger/stats: totals over every committed record,
// rebuilt from the file at start.
type LedgerStats struct {
	Kind    Kind   `json:"kind"`
	Records uint64 `json:"records"`
	LastSeq uint64 `json:"lastSeq"`
	Counts
	// ResponsesDropped counts records whose response the drop fault ate.
	ResponsesDropped uint64 `json:"responsesDropped"`
	// DistinctEventIDs counts applied event ids; EventIDReapplied counts
	// applied records whose event id had already been applied under another
	// key or resource — a duplicate the keys could not catch.
	DistinctEventIDs uint64            `json:"distinctEventIds"`
	EventIDReapplied uint64            `json:"eventIdReapplied"`
	Resources        map[string]Counts `json:"resources"`
	Sites            map[string]Counts `json:"sites"`
}
