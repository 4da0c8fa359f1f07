package ingest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/draylink/dray/relay/relaylog"
	"golang.org/x/time/rate"
)

// Defaults of Config.
const (
	DefaultReceiveMaximum = 1024
	DefaultMaxPacketSize  = 16 << 20
	// DefaultRatePerSite and DefaultRateBurst: well above what one site
	// can push (the spine target is 50,000 events/s), finite so that a
	// runaway agent cannot starve the others.
	DefaultRatePerSite    = rate.Limit(250_000)
	DefaultRateBurst      = 500_000
	DefaultKeepAlive      = 60 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
	DefaultMaxQueuedBytes = 256 << 20
)

// maxPacketSizeLimit is the largest MQTT packet: a 1-byte fixed header, a
// 4-byte Remaining Length and 268,435,455 bytes.
const maxPacketSizeLimit = 1 + 4 + maxRemainingLength

// Config configures a Server. The zero value of every field but TLS and the
// addresses means its default.
type Config struct {
	// QUICAddr and TCPAddr are the UDP (MQTT over QUIC, ALPN "mqtt") and
	// TCP (MQTT over TLS) addresses to listen on. Either may be empty, not
	// both; ":0" picks a free port (see Server.QUICAddr, Server.TCPAddr).
	QUICAddr, TCPAddr string
	// TLS is the server configuration. It must require and verify client
	// certificates (tls.RequireAndVerifyClientCert, see
	// pki.ServerTLSConfig): a site's identity is its certificate.
	TLS *tls.Config

	// ReceiveMaximum is announced in CONNACK: how many QoS 1 PUBLISHes a
	// client may have unacknowledged (default 1024). One more is refused
	// with DISCONNECT 0x93.
	ReceiveMaximum uint16
	// MaxPacketSize is announced in CONNACK and enforced from the fixed
	// header, before the packet is read (default 16 MiB).
	MaxPacketSize uint32
	// RatePerSite and RateBurst form a token bucket of events per site,
	// shared by its connections (defaults 250,000/s and 500,000; rate.Inf
	// for no limit). A batch over the limit gets PUBACK 0x97; a batch of
	// more than RateBurst events needs a full bucket.
	RatePerSite rate.Limit
	RateBurst   int
	// KeepAlive is announced as Server Keep Alive and enforced: a session
	// silent for 1.5 times it is closed with DISCONNECT 0x8D (default 60s,
	// at most 65535s).
	KeepAlive time.Duration
	// ConnectTimeout bounds the TLS handshake and the arrival of CONNECT
	// (default 10s).
	ConnectTimeout time.Duration
	// WriteTimeout bounds each write to a client (default 30s).
	WriteTimeout time.Duration

	// CommitInterval is how long the committer waits after the first batch
	// of a group before committing it (default 0: a group is whatever
	// arrived while the previous commit ran, which already batches under
	// load without adding latency when idle).
	CommitInterval time.Duration
	// MaxCommitBatches, MaxCommitEvents and MaxCommitBytes bound one group
	// commit (defaults: the relay log's MaxAppendBatches, MaxAppendEvents
	// and MaxAppendBytes; larger values are refused). A single PUBLISH
	// over MaxCommitEvents or MaxCommitBytes is refused with PUBACK 0x97.
	MaxCommitBatches, MaxCommitEvents, MaxCommitBytes int
	// MaxQueuedBytes bounds the event bytes read but not yet committed,
	// across all connections (default 256 MiB). When it is reached,
	// sessions stop reading until a commit frees room: backpressure
	// through TCP/QUIC flow control, not memory growth.
	MaxQueuedBytes int

	// Authorize, when set, decides after CONNECT passed its own checks,
	// before the session is registered, whether the site's certificate may
	// open a session (the relay's site registry: revoked sites, superseded
	// certificates). nil admits; an *AuthError refuses with its code;
	// any other error refuses with 0x87 Not authorized. It is called
	// concurrently, once per connection, and must not block for long.
	Authorize func(site string, cert *x509.Certificate) error

	// Logger receives operational lines and the audit lines of refusals
	// (default slog.Default()).
	Logger *slog.Logger
}

// withDefaults fills in defaults and returns every invalid field.
func (c *Config) withDefaults() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if c.QUICAddr == "" && c.TCPAddr == "" {
		bad("QUICAddr, TCPAddr", "at least one listen address is required")
	}
	switch {
	case c.TLS == nil:
		bad("TLS", "a server TLS configuration is required")
	case c.TLS.ClientAuth != tls.RequireAndVerifyClientCert:
		bad("TLS.ClientAuth", "must be tls.RequireAndVerifyClientCert (sites are identified by their certificate)")
	case c.TLS.ClientCAs == nil:
		bad("TLS.ClientCAs", "the site CA pool is required")
	}
	if c.ReceiveMaximum == 0 {
		c.ReceiveMaximum = DefaultReceiveMaximum
	}
	switch {
	case c.MaxPacketSize == 0:
		c.MaxPacketSize = DefaultMaxPacketSize
	case c.MaxPacketSize < 1024 || c.MaxPacketSize > maxPacketSizeLimit:
		bad("MaxPacketSize", "%d is outside 1024..%d", c.MaxPacketSize, maxPacketSizeLimit)
	}
	switch {
	case c.RatePerSite == 0:
		c.RatePerSite = DefaultRatePerSite
	case c.RatePerSite < 0:
		bad("RatePerSite", "must not be negative")
	}
	switch {
	case c.RateBurst == 0:
		c.RateBurst = DefaultRateBurst
	case c.RateBurst < 0:
		bad("RateBurst", "must not be negative")
	}
	switch {
	case c.KeepAlive == 0:
		c.KeepAlive = DefaultKeepAlive
	case c.KeepAlive < time.Second || c.KeepAlive > 65535*time.Second:
		bad("KeepAlive", "%v is outside 1s..65535s", c.KeepAlive)
	}
	defaultDuration(&c.ConnectTimeout, DefaultConnectTimeout, "ConnectTimeout", bad)
	defaultDuration(&c.WriteTimeout, DefaultWriteTimeout, "WriteTimeout", bad)
	if c.CommitInterval < 0 {
		bad("CommitInterval", "must not be negative")
	}
	defaultLimit(&c.MaxCommitBatches, relaylog.MaxAppendBatches, "MaxCommitBatches", bad)
	defaultLimit(&c.MaxCommitEvents, relaylog.MaxAppendEvents, "MaxCommitEvents", bad)
	defaultLimit(&c.MaxCommitBytes, relaylog.MaxAppendBytes, "MaxCommitBytes", bad)
	switch {
	case c.MaxQueuedBytes == 0:
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	case c.MaxQueuedBytes < 0:
		bad("MaxQueuedBytes", "must not be negative")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

func defaultDuration(d *time.Duration, def time.Duration, field string, bad func(string, string, ...any)) {
	switch {
	case *d == 0:
		*d = def
	case *d < 0:
		bad(field, "must not be negative")
	}
}

func defaultLimit(v *int, limit int, field string, bad func(string, string, ...any)) {
	switch {
	case *v == 0:
		*v = limit
	case *v < 0 || *v > limit:
		bad(field, "%d is outside 1..%d (the relay log's limit for one append)", *v, limit)
	}
}
