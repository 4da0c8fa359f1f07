package uplink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/draylink/dray/canonical"
)

// Defaults of Config.
const (
	DefaultDialTimeout      = 5 * time.Second
	DefaultQUICRetry        = 2 * time.Minute
	DefaultKeepAlive        = 30 * time.Second
	DefaultMaxBatchEvents   = 1024
	DefaultMaxBatchBytes    = 1 << 20
	DefaultMaxInFlightBytes = 16 << 20
	DefaultBackoffMin       = 500 * time.Millisecond
	DefaultBackoffMax       = 30 * time.Second
)

// Config configures an Uplink. The zero value of every field but Site, the
// addresses and TLS means its default.
type Config struct {
	// Site is the site id; it is the MQTT ClientID and must match the site
	// of the client certificate in TLS.
	Site string
	// QUICAddr and TCPAddr are the relay's MQTT-over-QUIC (UDP) and
	// MQTT-over-TLS (TCP) endpoints, host:port. Either may be empty, not
	// both. QUIC is tried first; TCP is the fallback when UDP is blocked.
	QUICAddr, TCPAddr string
	// TLS holds the site's client certificate and the relay CA. It is
	// cloned; QUIC dials set ALPN "mqtt" on their copy.
	TLS *tls.Config
	// DialTimeout bounds every dial (QUIC or TCP, TLS handshake included)
	// and the CONNECT/CONNACK exchange (default 5s).
	DialTimeout time.Duration
	// QUICRetry is how often, while on the TCP fallback, QUIC is probed;
	// when a probe succeeds the uplink moves back to QUIC (default 2m).
	QUICRetry time.Duration
	// KeepAlive is the MQTT keepalive (default 30s; the relay may impose
	// its own in CONNACK).
	KeepAlive time.Duration
	// MaxBatchEvents and MaxBatchBytes bound one batch (defaults 1024
	// events and 1 MiB of events, before compression).
	MaxBatchEvents int
	MaxBatchBytes  int
	// MaxInFlightBytes bounds the event bytes (before compression) of the
	// batches sent and not yet acknowledged (default 16 MiB). The number of
	// such batches is bounded by the relay's Receive Maximum.
	MaxInFlightBytes int
	// BackoffMin and BackoffMax shape the jittered exponential backoff of
	// reconnects and re-sends after a refusal (defaults 500ms and 30s).
	BackoffMin, BackoffMax time.Duration
	// Logger receives the uplink's logs (default slog.Default()).
	Logger *slog.Logger
}

// withDefaults fills in defaults and returns every invalid field.
func (c *Config) withDefaults() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if !canonical.ValidSiteID(c.Site) {
		bad("Site", "%q is not a valid site id", c.Site)
	}
	if c.QUICAddr == "" && c.TCPAddr == "" {
		bad("QUICAddr, TCPAddr", "at least one relay address is required")
	}
	if c.TLS == nil {
		bad("TLS", "a client TLS configuration is required")
	}
	duration := func(d *time.Duration, def time.Duration, field string) {
		switch {
		case *d == 0:
			*d = def
		case *d < 0:
			bad(field, "must not be negative")
		}
	}
	duration(&c.DialTimeout, DefaultDialTimeout, "DialTimeout")
	duration(&c.QUICRetry, DefaultQUICRetry, "QUICRetry")
	duration(&c.KeepAlive, DefaultKeepAlive, "KeepAlive")
	duration(&c.BackoffMin, DefaultBackoffMin, "BackoffMin")
	duration(&c.BackoffMax, DefaultBackoffMax, "BackoffMax")
	if c.KeepAlive > 0 && (c.KeepAlive < time.Second || c.KeepAlive > 65535*time.Second) {
		bad("KeepAlive", "%v is outside 1s..65535s", c.KeepAlive)
	}
	if c.BackoffMax < c.BackoffMin {
		bad("BackoffMax", "%v is below BackoffMin %v", c.BackoffMax, c.BackoffMin)
	}
	limit := func(v *int, def int, field string) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			bad(field, "must not be negative")
		}
	}
	limit(&c.MaxBatchEvents, DefaultMaxBatchEvents, "MaxBatchEvents")
	limit(&c.MaxBatchBytes, DefaultMaxBatchBytes, "MaxBatchBytes")
	limit(&c.MaxInFlightBytes, DefaultMaxInFlightBytes, "MaxInFlightBytes")
	if c.MaxInFlightBytes < c.MaxBatchBytes {
		bad("MaxInFlightBytes", "%d is below MaxBatchBytes %d", c.MaxInFlightBytes, c.MaxBatchBytes)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}
