package refsink

import (
	"encoding/json"
	"net/http"

	"github.com/valyala/fasthttp"
)

// Problem types (RFC 9457 "type" members). They are URNs, not links: this is
// a test service with no documentation site.
const (
	problemPrefix         = "urn:dray:refsink:problem:"
	ptValidation          = problemPrefix + "validation"
	ptMalformed           = problemPrefix + "malformed-json"
	ptMediaType           = problemPrefix + "unsupported-media-type"
	ptKeyMissing          = problemPrefix + "idempotency-key-missing"
	ptKeyInvalid          = problemPrefix + "idempotency-key-invalid"
	ptKeyReused           = problemPrefix + "idempotency-key-reused"
	ptUnauthorized        = problemPrefix + "unauthorized"
	ptForbidden           = problemPrefix + "forbidden"
	ptRateLimited         = problemPrefix + "rate-limited"
	ptUnavailable         = problemPrefix + "unavailable"
	ptInjected            = problemPrefix + "injected-error"
	ptTooLarge            = problemPrefix + "payload-too-large"
	ptNotFound            = problemPrefix + "not-found"
	ptLedgerFailed        = problemPrefix + "ledger-failed"
	ptTypeNotAccepted     = problemPrefix + "type-not-accepted"
	ptMethodNotAllowed    = problemPrefix + "method-not-allowed"
	contentTypeProblem    = "application/problem+json"
	contentTypeJSON       = "application/json"
	contentTypeCE         = "application/cloudevents+json"
	contentTypeCEBatch    = "application/cloudevents-batch+json"
	headerIdempotencyKey  = "Idempotency-Key"
	headerReplayed        = "Idempotent-Replayed"
	headerSite            = "Dray-Site"
	headerPartitionKey    = "Dray-Partition-Key"
	headerCorrelationID   = "Dray-Correlation-Id"
	headerXCorrelationID  = "X-Correlation-Id"
	headerTraceparent     = "Traceparent"
	headerCEID            = "Ce-Id"
	headerCEType          = "Ce-Type"
	headerAPIKey          = "X-Api-Key" //nolint:gosec // a header name, not a credential
	headerAPIKeySAP       = "Apikey"
	maxIdempotencyKeySize = 255
)

// problemBody is an RFC 9457 problem detail.
type problemBody struct {
	Type     string    `json:"type"`
	Title    string    `json:"title"`
	Status   int       `json:"status"`
	Detail   string    `json:"detail,omitempty"`
	Instance string    `json:"instance,omitempty"`
	Errors   []problem `json:"errors,omitempty"`
}

func problemJSON(status int, typ, title, detail, instance string, errs []problem) []byte {
	b, _ := json.Marshal(problemBody{Type: typ, Title: title, Status: status, Detail: detail, Instance: instance, Errors: errs})
	return b
}

func writeProblem(ctx *fasthttp.RequestCtx, status int, typ, title, detail, instance string) {
	writeBody(ctx, status, contentTypeProblem, problemJSON(status, typ, title, detail, instance, nil))
}

// writeBody sets the answer; fasthttp writes it (with its Content-Length)
// when the handler returns.
func writeBody(ctx *fasthttp.RequestCtx, status int, contentType string, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType(contentType)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(body)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(ctx, http.StatusInternalServerError, problemPrefix+"internal", "Cannot encode the response", err.Error(), "")
		return
	}
	writeBody(ctx, status, contentTypeJSON, b)
}
