package dispatch

import (
	"net/http"
	"strings"
	"time"

	"github.com/draylink/dray/internal/backoff"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay/route"
)

// Config is the delivery part of one sink in the relay configuration
// (sinks[i], beside the HTTP part, relay/sink.Config).
type Config struct {
	// Workers is the number of partitions delivered in parallel (default
	// 16). A partition key always goes to the same worker, which delivers
	// its events one request (or batch) at a time, in log order.
	Workers int `yaml:"workers"`
	// MaxInFlight bounds the events read from the log and not yet finished
	// (default 8192): the distance the fastest partition may run ahead of
	// the cursor, which sits at the lowest unfinished event.
	MaxInFlight int `yaml:"max_in_flight"`
	// StartAt is where a sink seen for the first time starts: "oldest"
	// (default: every retained event) or "newest" (only what arrives from
	// now on).
	StartAt string `yaml:"start_at"`
	// CursorInterval is how often the cursor is written (default 200ms;
	// each write is an fsync). A crash re-sends at most what was delivered
	// since the last write; Idempotency-Key absorbs it.
	CursorInterval configfile.Duration `yaml:"cursor_interval"`
	Retry          RetryConfig         `yaml:"retry"`
	// Batch turns batching on, for sinks with a batch endpoint.
	Batch *BatchConfig `yaml:"batch"`
}

// RetryConfig is the backoff between attempts of a request: jittered,
// exponential, honouring Retry-After. Retryable failures are retried until
// they succeed: an event is finished only when the sink took it or it is in
// the dead-letter store.
type RetryConfig struct {
	// Initial is the first delay (default 200ms).
	Initial configfile.Duration `yaml:"initial"`
	// Max caps the delay (default 30s).
	Max configfile.Duration `yaml:"max"`
	// MaxRetryAfter caps a sink's Retry-After (default 5m).
	MaxRetryAfter configfile.Duration `yaml:"max_retry_after"`
}

// BatchConfig sends several events in one request.
type BatchConfig struct {
	// Path is the batch endpoint, appended to the sink's URL (e.g.
	// /erp/v1/batch).
	Path string `yaml:"path"`
	// Format is "json-batch" (an OData 4.01 JSON batch of the rendered
	// requests, built and read natively: the cheapest), "jq" (default: the
	// body is built by Body from the rendered requests) or "cloudevents" (a
	// JSON array of the events, application/cloudevents-batch+json; every
	// route of the sink must be in mode cloudevents).
	Format string `yaml:"format"`
	// Body is a jq expression over the array of rendered requests, each
	// {route, method, path, headers, body}, yielding the batch body
	// (format jq; default: the array itself).
	Body string `yaml:"body"`
	// Results is a jq expression over the response body yielding one
	// result per item, in order: a status number or an object with a
	// numeric "status". Without it, the response's status applies to every
	// item.
	Results string `yaml:"results"`
	// MaxEvents caps the events of one batch (default 100).
	MaxEvents int `yaml:"max_events"`
	// MaxBytes caps the summed request bodies of one batch (default 1MiB).
	MaxBytes configfile.ByteSize `yaml:"max_bytes"`
	// MaxWait is how long a worker waits for more events when a batch is
	// not full (default 5ms).
	MaxWait configfile.Duration `yaml:"max_wait"`
}

// Start positions.
const (
	StartOldest = "oldest"
	StartNewest = "newest"
)

// SetDefaults fills defaults.
func (c *Config) SetDefaults() {
	if c.Workers == 0 {
		c.Workers = 16
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 8192
	}
	if c.StartAt == "" {
		c.StartAt = StartOldest
	}
	if c.CursorInterval == 0 {
		c.CursorInterval = configfile.Duration(200 * time.Millisecond)
	}
	if c.Retry.Initial == 0 {
		c.Retry.Initial = configfile.Duration(200 * time.Millisecond)
	}
	if c.Retry.Max == 0 {
		c.Retry.Max = configfile.Duration(30 * time.Second)
	}
	if c.Retry.MaxRetryAfter == 0 {
		c.Retry.MaxRetryAfter = configfile.Duration(5 * time.Minute)
	}
	if b := c.Batch; b != nil {
		if b.Format == "" {
			b.Format = route.BatchJQ
		}
		if b.MaxEvents == 0 {
			b.MaxEvents = 100
		}
		if b.MaxBytes == 0 {
			b.MaxBytes = 1 << 20
		}
		if b.MaxWait == 0 {
			b.MaxWait = configfile.Duration(5 * time.Millisecond)
		}
	}
}

// Validate reports every problem under path (e.g. "sinks[0]"); routes are
// the routes of this sink, for the batch format check.
func (c *Config) Validate(path string, routes []route.Config, errs *configfile.Errors) {
	if c.Workers < 1 || c.Workers > 1024 {
		errs.Add(path+".workers", "must be between 1 and 1024, got %d", c.Workers)
	}
	if c.MaxInFlight < c.Workers || c.MaxInFlight > 1<<20 {
		errs.Add(path+".max_in_flight", "must be between workers and 1048576, got %d", c.MaxInFlight)
	}
	if c.StartAt != StartOldest && c.StartAt != StartNewest {
		errs.Add(path+".start_at", "want oldest or newest, got %q", c.StartAt)
	}
	if c.CursorInterval.D() < 10*time.Millisecond || c.CursorInterval.D() > time.Minute {
		errs.Add(path+".cursor_interval", "must be between 10ms and 1m")
	}
	if c.Retry.Initial.D() < time.Millisecond || c.Retry.Max.D() < c.Retry.Initial.D() {
		errs.Add(path+".retry", "want 1ms ≤ initial ≤ max")
	}
	if b := c.Batch; b != nil {
		bp := path + ".batch"
		if !strings.HasPrefix(b.Path, "/") || strings.HasPrefix(b.Path, "//") {
			errs.Add(bp+".path", "want a path starting with a single /, got %q", b.Path)
		}
		route.CompileBatch(bp, b.Format, b.Body, b.Results, errs)
		if b.Format == route.BatchCloudEvents {
			for _, r := range routes {
				if r.Mode != route.ModeCloudEvents {
					errs.Add(bp+".format", "cloudevents batches need routes in mode cloudevents; route %s is not", r.Name)
				}
			}
		}
		if b.MaxEvents < 1 || b.MaxEvents > 10000 {
			errs.Add(bp+".max_events", "must be between 1 and 10000, got %d", b.MaxEvents)
		}
		if b.MaxBytes < 1<<10 || b.MaxBytes > 64<<20 {
			errs.Add(bp+".max_bytes", "must be between 1KiB and 64MiB")
		}
		if b.MaxWait.D() < 0 || b.MaxWait.D() > 5*time.Second {
			errs.Add(bp+".max_wait", "must be between 0 and 5s")
		}
	}
}

func (c *Config) policy() backoff.Policy {
	return backoff.Policy{Initial: c.Retry.Initial.D(), Max: c.Retry.Max.D(), MaxRetryAfter: c.Retry.MaxRetryAfter.D()}
}

// batchMethod is the method of batch requests.
const batchMethod = http.MethodPost
