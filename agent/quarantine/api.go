package quarantine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/agent/supervisor"
)

// Store is the spool's quarantine, as the API reads it.
type Store interface {
	ListQuarantine(f spool.QuarantineFilter) ([]spool.QuarantineRecord, error)
	Quarantined(id string) (spool.QuarantineRecord, error)
	QuarantineCounts() map[string]int64
}

// Retrier retries the records of one connector (a *supervisor.Supervisor).
type Retrier interface {
	Retry(ctx context.Context, rec spool.QuarantineRecord, payload []byte) (supervisor.RetryOutcome, error)
}

// API serves the quarantine over HTTP; see the package comment.
type API struct {
	Store Store
	// Connector returns the connector a record's source names.
	Connector func(source string) (Retrier, bool)
	// RetryTimeout bounds one retry (default 30 s).
	RetryTimeout time.Duration
	// Logger gets an audit line per retry. Nil discards.
	Logger *slog.Logger
}

// maxRetryBody bounds a retry request (a corrected payload, in base64).
const maxRetryBody = 32 << 20

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /quarantine", a.loopback(a.list))
	mux.HandleFunc("GET /quarantine/{id}", a.loopback(a.show))
	mux.HandleFunc("POST /quarantine/{id}/retry", a.loopback(a.retry))
}

func (a *API) log() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

// loopback refuses peers that are not on this machine.
func (a *API) loopback(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			writeError(w, http.StatusForbidden, "the quarantine is served to local clients only")
			return
		}
		h(w, r)
	}
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := spool.QuarantineFilter{Source: q.Get("source"), Code: q.Get("code"), After: q.Get("after")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > spool.MaxQuarantineLimit {
			writeError(w, http.StatusBadRequest, "limit must be a number from 1 to "+strconv.Itoa(spool.MaxQuarantineLimit))
			return
		}
		f.Limit = n
	}
	recs, err := a.Store.ListQuarantine(f)
	if errors.Is(err, spool.ErrNotQuarantined) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := List{Counts: a.Store.QuarantineCounts(), Records: make([]Summary, len(recs))}
	for _, n := range out.Counts {
		out.Total += n
	}
	for i, rec := range recs {
		out.Records[i] = SummaryOf(rec)
	}
	limit := f.Limit
	if limit == 0 {
		limit = spool.DefaultQuarantineLimit
	}
	if len(recs) == limit {
		out.Next = recs[len(recs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) show(w http.ResponseWriter, r *http.Request) {
	rec, err := a.Store.Quarantined(r.PathValue("id"))
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, RecordOf(rec))
}

// RecordOf adds the payload as text when it is UTF-8.
func RecordOf(rec spool.QuarantineRecord) Record {
	out := Record{QuarantineRecord: rec}
	if utf8.Valid(rec.Payload) {
		s := string(rec.Payload)
		out.PayloadText = &s
	}
	return out
}

func (a *API) retry(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req RetryRequest
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send the retry request as application/json")
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRetryBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "retry request: "+err.Error())
		return
	}
	if req.Payload != nil && req.PayloadText != nil {
		writeError(w, http.StatusBadRequest, "give payload or payload_text, not both")
		return
	}
	payload := req.Payload
	if req.PayloadText != nil {
		payload = []byte(*req.PayloadText)
	}
	rec, err := a.Store.Quarantined(id)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	conn, ok := a.Connector(rec.Source)
	if !ok {
		writeError(w, http.StatusConflict, "no connector named "+strconv.Quote(rec.Source)+" is configured: the record cannot be retried")
		return
	}
	timeout := a.RetryTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	out, err := conn.Retry(ctx, rec, payload)
	if err != nil {
		a.log().Warn("quarantine retry refused", "id", id, "source", rec.Source, "err", err)
		writeError(w, statusOf(err), err.Error())
		return
	}
	a.log().Info("quarantine retry", "id", id, "source", rec.Source, "code", rec.Code, "resolved", out.Resolved,
		"events", len(out.Events), "corrected_payload", payload != nil, "err", out.Error)
	status := http.StatusOK
	if !out.Resolved {
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, RetryResponse{ID: id, RetryOutcome: out})
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	var paused *spool.PausedError
	switch {
	case errors.Is(err, spool.ErrNotQuarantined):
		return http.StatusNotFound
	case errors.Is(err, supervisor.ErrNoRetry):
		return http.StatusNotImplemented
	case errors.Is(err, supervisor.ErrNotRunning), errors.As(err, &paused), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg})
}
