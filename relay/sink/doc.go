// Package sink sends the relay's requests to one HTTP endpoint (an ERP, a
// TMS, a webhook) and says what each response means for the events in it.
//
// A Sink owns the endpoint's HTTP/1.1 client (github.com/valyala/fasthttp's
// HostClient: its own connection pool, TLS trust and optional client
// certificate for mTLS, HTTP_PROXY/HTTPS_PROXY/NO_PROXY from the
// environment), its credentials (OAuth2
// client credentials via golang.org/x/oauth2/clientcredentials, a static
// bearer token, or an API-key header; secrets come from environment
// variables or files named in the configuration, are read once at New and
// never logged or stored with a request), a request timeout, a rate limit
// (golang.org/x/time/rate) and a circuit breaker (github.com/sony/gobreaker).
// Response bodies are read up to MaxResponseBytes; redirects are not
// followed. A request whose context is cancelled ends at once (the sink's
// connections are closed, as fasthttp takes no context); one whose
// connection closes before any answer is sent again once, at once, on a
// new connection (it carries its Idempotency-Key).
//
// Classify maps a status to an Outcome: 2xx Done; 409 Duplicate (the sink
// had it: done); 408, 425, 429, 5xx, 401 and transport errors Retry; any
// other status Dead (the dead-letter store). The breaker counts transport
// errors, timeouts, 5xx, 408 and 401 as failures; 429 is the sink pacing
// us, not failing. While it is open, Do returns Retry with ErrBreakerOpen
// without a request. Retrying is the caller's job (relay/dispatch, with
// relay/backoff and the Result's RetryAfter).
package sink
