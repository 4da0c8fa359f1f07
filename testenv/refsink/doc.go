// Package refsink is dray's reference ERP and TMS: real HTTP services,
// started as separate processes (dray-refsink) by tests and the demo, or
// in-process ([Server.Serve], [Server.StartLoopback]), that behave like
// the cloud APIs the relay delivers to and keep an exact, fsynced ledger
// of every request they applied, so a run can count loss and duplicates
// exactly (docs/RELIABILITY.md, "Counting loss and duplicates exactly").
//
// # Flavours and routes
//
// One server plays one flavour (Config.Kind, --kind). Request bodies are
// JSON; field names follow the public APIs each resource is modelled on.
// Members not listed are ignored (a mapping may carry extra references).
// Quantities and amounts are decimal strings ("12.500"), never JSON numbers;
// timestamps are RFC 3339 with a zone (a zoneless one is refused with
// time_without_zone); dates are YYYY-MM-DD.
//
// ERP (SAP S/4HANA material documents and outbound-delivery goods issue,
// Oracle ERP receiving and payables):
//
//	POST /erp/v1/goods-movements       inventory moves, adjustments, counts, receipts
//	     required: movementType, material, plant, quantity, unit (UN/ECE Rec 20/21 code)
//	     optional: storageLocation, toPlant, toStorageLocation, batch, postingDate,
//	               occurredAt, reasonCode, reference
//	POST /erp/v1/goods-issues          deliveries shipped
//	     required: delivery, plant, issuedAt, items[≥1]{item, material, quantity, unit}
//	     optional: shipmentId, carrierScac, billOfLading, items[].batch
//	POST /erp/v1/proofs-of-delivery
//	     required: delivery, deliveredAt
//	     optional: shipmentId, signedBy, items[]{material, deliveredQuantity, unit,
//	               damagedQuantity, differenceReason}
//	POST /erp/v1/freight-invoices
//	     required: invoiceNumber, invoiceDate, supplierScac, currency (ISO 4217),
//	               totalAmount, lines[≥1]{chargeCode, amount}
//	     rule:     totalAmount equals the sum of the lines exactly (total_mismatch)
//
// TMS (Oracle OTM shipments and tenders, MercuryGate loads, project44-style
// status updates):
//
//	POST /tms/v1/shipments
//	     required: shipmentId, stops[≥1]{sequence ≥ 1, type pickup|delivery,
//	               location{city, country (ISO 3166 alpha-2)}}
//	     optional: mode, carrierScac, billOfLading, proNumber, stops[].appointmentAt,
//	               stops[].location.{id, name, postalCode}
//	POST /tms/v1/tenders
//	     required: shipmentId, carrierScac, action offer|accept|decline|cancel, at
//	     optional: reasonCode, rate{amount, currency}
//	POST /tms/v1/shipments/{id}/milestones
//	     required: code (e.g. departed_pickup, or an X12 AT7 code), timestamp
//	     optional: stopSequence, reasonCode, eta, location{city, region, country},
//	               shipmentId (must equal {id}: shipment_mismatch)
//
// Each resource also takes POST <resource>:batch, and each flavour POST
// /erp/v1/batch or /tms/v1/batch (below). An applied request is answered
// 201 with Location <resource>/<documentId> and
//
//	{"documentId":"490000000007","resource":"goods-movements","status":"applied",
//	 "idempotencyKey":"…","eventId":"…","ledgerSeq":7,"appliedAt":"…"}
//
// and GET <resource>/{documentId} returns it. Document ids are a resource
// prefix (49 goods movements, 80 goods issues, PD, 51 invoices, TS, TT, TM)
// and the ledger seq.
//
// # Refusals
//
// Refusals are RFC 9457 problem bodies (application/problem+json) with a
// "type" URN urn:dray:refsink:problem:<name> and, for validation, an
// "errors" list of {pointer (JSON Pointer), code, detail}:
//
//	400 idempotency-key-missing, idempotency-key-invalid, malformed-json
//	401 unauthorized (with a WWW-Authenticate Bearer challenge)
//	404 not-found; 413 payload-too-large (body > MaxBodyBytes, batch > MaxBatchItems)
//	415 unsupported-media-type
//	422 validation, type-not-accepted, idempotency-key-reused
//	429 rate-limited, 5xx injected-error, 503 unavailable (fault knobs, Retry-After)
//	503 ledger-failed (the ledger could not be written: nothing was applied)
//
// A 4xx other than 408/409/425/429 is permanent for the relay: that is how
// a rejection reaches its dead-letter queue.
//
// # CloudEvents
//
// Every resource also accepts the CloudEvents HTTP binding in structured
// mode (Content-Type application/cloudevents+json: one event) and batch mode
// (application/cloudevents-batch+json: a JSON array), so a route may send
// canonical events unchanged. Events are decoded with canonical's strict
// decoder and checked with canonical.Validate, so a malformed or invalid
// event is a 422 with the model's field paths. Each resource takes the event
// types that mean something to it (type-not-accepted otherwise):
//
//	goods-movements     inventory.moved, inventory.status_changed, inventory.counted,
//	                    inventory.snapshot, receipt.completed
//	goods-issues        shipment.shipped
//	proofs-of-delivery  delivery.confirmed
//	freight-invoices    freight_charge.invoiced
//	shipments           order.received, order.changed, order.cancelled,
//	                    order.released, shipment.shipped
//	tenders             shipment.tendered, shipment.tender_responded
//	milestones          shipment.status_changed, delivery.confirmed
//	                    (the subject must be shipment/{id})
//	every resource      event.retracted
//
// (all with the logistics. prefix). Batch mode on /erp/v1/batch or
// /tms/v1/batch sends each event to the resource that takes its type
// (milestones to the subject's shipment; retractions must go to a resource).
// A Dray-Site header that disagrees with an event's siteid is a 422
// (site_mismatch). CloudEvents binary mode needs nothing special: a plain
// JSON body with ce-* headers is a plain request whose ce-id and ce-type are
// recorded.
//
// # Batches
//
// Items of a batch are applied independently, each with its own key (an
// Idempotency-Key header on the batch request itself is not used); the
// answer is 200 with one result per item, in order. A retried batch gets the
// same per-item results (replays), whatever else changed in it.
//
//	POST <resource>:batch, Content-Type application/json:
//	  [{"idempotencyKey":"k1","body":{…},
//	    "eventId","eventType","site","correlationId","traceparent","partitionKey"  (optional)}, …]
//	POST <resource>:batch or <resource>, Content-Type application/cloudevents-batch+json:
//	  [event, …]   each event's key is its idempotencykey attribute, else its id
//	→ 200 {"applied":n,"replayed":n,"failed":n,
//	       "results":[{"index":0,"status":201,"idempotencyKey":"k1","replayed":false,
//	                   "location":"…","body":{…answer or problem…}}, …]}
//
//	POST /erp/v1/batch (/tms/v1/batch), Content-Type application/json, shaped
//	like an OData 4.01 JSON batch:
//	  {"requests":[{"id":"1","method":"POST","url":"/erp/v1/goods-movements",
//	                "headers":{"Idempotency-Key":"k1","Content-Type":"application/json"},
//	                "body":{…}}, …]}
//	→ 200 {"responses":[{"id":"1","status":201,"headers":{"Location":"…"},"body":{…}}, …]}
//
// The same route also takes a bare array of requests, the relay's default
// jq batch body (its rendered requests, relay/route):
//
//	[{"route":"moves","method":"POST","path":"/erp/v1/goods-movements",
//	  "headers":{"Idempotency-Key":"…","Dray-Site":"MEM1","Ce-Id":"…",…},"body":{…}}, …]
//	→ 200 {"applied":…,"results":[…]} as for …:batch (relay results expression: .results)
//
// Sub-request headers override the batch request's (Dray-Site, traceparent,
// …; never Idempotency-Key: each item names its own); url (or path) may omit
// the /erp/v1/ prefix and carry a query. An item without its own
// Content-Type whose body has a top-level specversion member is taken as a
// structured CloudEvent. An empty batch is a 422, more than MaxBatchItems
// (default 1000) a 413.
//
// # Idempotency
//
// Every single POST needs an Idempotency-Key header (draft-ietf-httpapi-
// idempotency-key-header): 1 to 255 visible ASCII characters, bare or as a
// structured-field string ("…"). Keys are scoped to the resource (all
// milestones share one scope) and bound to a fingerprint: the item's path
// and the SHA-256 of its compacted JSON body (insignificant whitespace does
// not count; member order does).
//
//   - A new key: validated and applied, 201.
//   - The same key and fingerprint again: the original answer is replayed
//     byte for byte, with Idempotent-Replayed: true; nothing is applied.
//   - The same key with a different body (or milestone path): 422
//     idempotency-key-reused. The draft says 422 for this case (its 409 is
//     for a retry that arrives while the original is still being
//     processed), and 422 is what makes the relay dead-letter it instead of
//     retrying a request that can never succeed.
//   - A retry that arrives while the original is not yet durable waits for
//     it (it is committed after the original) and gets the replay, so no
//     409 is ever sent.
//   - A rejected request (400/413/415/422) does not bind its key: the
//     corrected request, e.g. a dead-letter redrive after an edit, applies
//     under the same key.
//
// Keys live in the ledger, so they are kept as long as the data directory:
// there is no dedup window to outlive.
//
// # Authentication
//
// With no credential configured every request is accepted. Otherwise a
// business request (and GET of a document) must carry one of:
//
//   - an OAuth2 access token from POST /oauth/token (client-credentials
//     grant, client authenticated by HTTP Basic or client_id/client_secret
//     form fields, RFC 6749 §4.4; errors per §5.2). Tokens are HMAC-signed,
//     carry the client and the expiry (Auth.TokenTTL, default 10m) and
//     survive a restart (the key is data/oauth-signing.key); an expired or
//     forged token is a 401 with error="invalid_token";
//   - a static bearer token (Auth.BearerTokens);
//   - an API key in X-API-Key or APIKey (Auth.APIKeys).
//
// With TLS.ClientCAFile set the TLS handshake requires a client certificate
// from that CA (mTLS); a certificate alone authenticates only when no other
// credential is configured. The ledger records who authenticated. The
// control endpoints (/_ledger, /_faults) are open unless AdminToken is set.
// Secrets are never logged.
//
// # Ledger
//
// data/ledger.jsonl holds one JSON object per line, appended, written and
// fsynced (group commit: concurrent requests share an fsync, the commit
// waiting at most 0.5 ms for requests already being read) before any
// answer is sent, so what a client saw acknowledged survives SIGKILL. A
// torn last line (a crash mid-write, never acknowledged) is cut off at
// start; any other damage, or a gap in seq, refuses to start. A data
// directory is locked by one process. Every request that passed auth and
// the fault knobs gets a record per item — applied or not — see [Record]:
//
//	{"seq":7,"time":"2026-11-27T07:52:26.404675182Z","kind":"erp",
//	 "resource":"goods-movements","path":"/erp/v1/goods-movements","format":"json",
//	 "outcome":"applied","status":201,"key":"…","eventId":"…","eventType":"…",
//	 "eventTime":"…","site":"MEM1","correlationId":"…","traceparent":"00-…",
//	 "partitionKey":"item/ACME/AF-1002","partitionSeq":3,"principal":"oauth2:relay",
//	 "bodySha256":"…","documentId":"490000000007","response":{…}}
//
// outcome is applied, duplicate (replayed; original = the applied seq),
// conflict (key reused with another body) or rejected (problems lists the
// reasons). batch/batchIndex mark items of one batch request (batch = the
// seq of its first record); responseDropped marks records whose answer the
// drop fault ate; body holds the request body when RecordBodies is on.
// Where each attribute comes from:
//
//	eventId       ce-id header, else the CloudEvents id, else a top-level "eventId" member
//	site          Dray-Site header (or ce-siteid), else the CloudEvents siteid
//	correlationId Dray-Correlation-Id, ce-correlationid or X-Correlation-Id header,
//	              else the CloudEvents correlationid
//	traceparent   traceparent header, else the CloudEvents attribute
//	partitionKey  Dray-Partition-Key (or ce-partitionkey) header, else the CloudEvents
//	              partitionkey, else shipment/{id} for milestones
//
// seq is gapless and in commit order, which is the order requests reached
// the apply step; partitionSeq counts the applied records of one partition
// key (1, 2, …), so "in order per key" is a check on the records of that key.
//
// Query API: GET /_ledger?resource=&site=&key=&eventId=&partitionKey=
// &outcome=&since=<RFC 3339>&after=<seq>&limit=<≤ 10000, default 1000>
// returns {"records":[…],"next":<seq>,"more":bool}; pass next as after for
// the following page ([Client.Records] does). GET /_ledger/stats returns
// [LedgerStats]: totals per outcome, per resource and per site, answers
// dropped, distinct event ids and eventIdReapplied (an event applied again
// under another key: a duplicate the keys could not catch). Both are
// rebuilt from the file at start, so they count exactly across restarts.
//
// # Fault knobs
//
// [Faults], from the config file at start and replaced live by PUT /_faults
// (GET /_faults shows them): added latency (latency + uniform jitter),
// errorRate (answered errorStatus, default 500), rateLimitRate (429 with
// Retry-After) and rateLimitRPS (a token bucket, Retry-After to the next
// token), down (a toggle) and outages (absolute from/until or after/for
// relative to when the knobs were set: 503 with Retry-After the time left),
// and dropAfterApplyRate: the request is applied and committed, then the
// TCP connection is closed without an answer, so the relay must retry with
// the same key and the sink must not apply twice. Resources limits them to
// some resources ("batch" names the /v1/batch routes). Faults apply to
// business routes only and come in this order: outage, authentication,
// latency, 429, 5xx, processing, drop.
//
// Decisions are deterministic: each business request draws four numbers
// from a PCG generator seeded with seed, whether a knob uses them or not,
// so the n-th request meets the same faults in every run with the same
// knobs (with concurrent requests, n is the order they reach the
// injector). GET /_faults/stats counts every fault that fired ([FaultStats],
// since the process started; responseDropped in the ledger is the durable
// trace of drops).
//
// A Go client note for drop tests: net/http's Transport transparently
// re-sends a request that carries an Idempotency-Key when a reused
// keep-alive connection breaks before the response; the ledger then shows
// the application and the replay, and the caller sees only the replay. Use
// a fresh connection to see the failure itself.
//
// # HTTP server
//
// The server is github.com/valyala/fasthttp's (HTTP/1.1 only, also under
// TLS), not net/http's. In the fan-out benchmark the relay and two
// dray-refsink processes share a 2-core machine, and the sinks' CPU per
// request bounds the one-request-per-event rate: net/http's own share was
// 45–55 µs of the 115–140 µs a single goods movement cost a sink (serve
// loop, header parsing, per-request context and background read, response
// flushing); a no-op net/http server measured 45–58 µs per request, a
// no-op fasthttp one 21–30 µs.
// Measured with BenchmarkGoodsMovement (single/c32, 10,000 requests, the
// sink's CPU per event from /proc, the net/http and fasthttp builds run
// interleaved on that machine, five runs each): 103–133 µs per event with
// net/http, 66–95 µs with fasthttp (the no-op net/http peer: 41–57 µs in
// the same runs); a batch (odata100/c4) costs about the same either way,
// 13–23 µs per event.
//
// Seen by a client the API is the same as with net/http's ServeMux: a GET
// route serves HEAD, any other method or path is the not-found problem, a
// wildcard ({id}, {doc}) is one non-empty segment. A body above a route's
// limit is answered 413 (and a business route records the refusal); one
// above the largest limit is read only to be discarded, and the
// connection is closed after the answer. Request headers may take up to
// 64 KiB (else 431). While a request waits out injected latency the server
// watches its connection, as net/http's request context did: a client
// that closes it has given up and the request is not processed; a
// request the client pipelined behind it is not answered (the connection
// closes after the first answer). Timeouts: a request must be read, and
// its answer written, within a minute; an idle keep-alive connection is
// closed after two.
//
// # Configuration
//
// dray-refsink --kind erp|tms --listen 127.0.0.1:PORT --data DIR
// [--config FILE] [--addr-file FILE] [--log-level info] [--log-format json]:
// flags override the file. The file is JSON, decoded strictly ([Config]):
//
//	{"kind":"erp","listen":"127.0.0.1:8081","data":"/tmp/erp",
//	 "auth":{"oauth2Clients":[{"clientId":"relay","clientSecret":"…"}],"tokenTTL":"5m",
//	         "bearerTokens":["…"],"apiKeys":["…"]},
//	 "tls":{"certFile":"…","keyFile":"…","clientCAFile":"…"},
//	 "faults":{"seed":42,"latency":"20ms","jitter":"10ms","errorRate":0.05,
//	           "rateLimitRate":0.02,"retryAfter":"2s","dropAfterApplyRate":0.01,
//	           "outages":[{"after":"30s","for":"10s"}]},
//	 "adminToken":"…","recordBodies":true,"maxBodyBytes":16777216,"maxBatchItems":1000}
//
// SIGTERM or SIGINT shuts down gracefully: in-flight requests finish, the
// ledger is flushed and closed. GET /healthz answers 200 when serving.
//
// # Client
//
// [Client] reads the ledger ([Client.Ledger], [Client.Records],
// [Client.Stats]), turns the knobs ([Client.Faults], [Client.SetFaults],
// [Client.SetDown], [Client.FaultStats]), fetches tokens ([Client.Token])
// and waits for readiness ([Client.WaitReady]).
package refsink
