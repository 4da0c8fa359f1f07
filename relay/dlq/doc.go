// Package dlq is the relay's dead-letter store: per sink, the events that
// sink refused for good (a 4xx other than 408/409/425/429) or that a route
// could not render, each with the route, the request as sent (method, URL,
// headers without credentials, body), the response status and the start of
// its body, the number of attempts and the first and last times
// (ARCHITECTURE.md, guarantee 5; RELIABILITY.md: a permanent rejection goes
// to a dead-letter queue, never to the floor).
//
// It is one Badger database (<data>/dlq) with SyncWrites: Put returns after
// the fsync, so a dispatcher may move its cursor past an event as soon as
// Put returns — the event is then either delivered or here. A dead letter
// is named by its sink and the event's relay log sequence (one event makes
// at most one request per sink); putting it again (a replay or a redrive
// that failed again) replaces it, keeps its first time and adds attempts.
// Delete removes it for a successful redrive or a discard; the audit line
// of a discard is the admin API's to write.
//
// Records are JSON: an operator can read them with `dray-relay dlq show`
// and they survive changes of the Go types.
package dlq
