package sink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpproxy"
)

// The requests themselves go out through fasthttp's HostClient: one
// request per event is the relay's hottest path, and net/http's client
// (a reader and a writer goroutine per connection, channels between them
// and the caller, a header map per request) spent about 60 µs of CPU per
// request against fasthttp's 25 µs in the same run (docs/PERFORMANCE.md,
// "HTTP client"). OAuth2 token requests, rare, stay on net/http, which
// golang.org/x/oauth2 expects.

// newHostClient builds the HTTP/1.1 client of a sink whose base URL is
// u: HTTP_PROXY, HTTPS_PROXY and NO_PROXY from the environment (CONNECT
// tunnels, as net/http does for https), IPv4 and IPv6, no redirects
// followed (fasthttp's Do never follows them) and no retries of its own
// (send retries once on a connection the sink closed under it).
func newHostClient(cfg Config, u *url.URL, tlsConf *tls.Config, conns *connSet) (*fasthttp.HostClient, error) {
	isTLS := u.Scheme == "https"
	port := u.Port()
	if port == "" {
		port = "80"
		if isTLS {
			port = "443"
		}
	}
	dialTimeout := min(cfg.Timeout.D(), 10*time.Second)
	d := &fasthttpproxy.Dialer{DialDualStack: true, Timeout: dialTimeout, ConnectTimeout: dialTimeout}
	dial, err := d.GetDialFuncForTLS(true, isTLS)
	if err != nil {
		return nil, fmt.Errorf("proxy from the environment: %w", err)
	}
	return &fasthttp.HostClient{
		Addr:  net.JoinHostPort(u.Hostname(), port),
		IsTLS: isTLS,
		// fasthttp sets the server name from Addr when the configuration
		// leaves it empty.
		TLSConfig: tlsConf,
		Dial: func(addr string) (net.Conn, error) {
			c, err := dial(addr)
			if err != nil {
				return nil, err
			}
			return conns.add(c), nil
		},
		Name:                          "dray-relay",
		MaxConns:                      cfg.MaxConns,
		MaxConnWaitTimeout:            cfg.Timeout.D(),
		MaxIdleConnDuration:           90 * time.Second,
		MaxIdemponentCallAttempts:     1,
		RetryIfErr:                    func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		DisableHeaderNamesNormalizing: true,
		// Paths are the routes' rendered templates, escaped by them:
		// sent as they are.
		DisablePathNormalizing: true,
		// Bodies are streamed so that only MaxResponseBytes of one are
		// read (readBody).
		StreamResponseBody: true,
	}, nil
}

// staleConn reports whether a request failed because the connection
// closed before any answer: a pooled connection the sink had timed out,
// or a sink that applied the request and dropped the answer. Every
// request carries an Idempotency-Key, so sending it again at once is safe
// (net/http does the same for requests with that header).
func staleConn(err error) bool {
	return errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readBody reads at most limit bytes of a response body and closes it (the
// connection is reused when the body was read to its end, closed
// otherwise).
func readBody(resp *fasthttp.Response, limit int) ([]byte, error) {
	stream := resp.BodyStream()
	if stream == nil {
		return append([]byte(nil), resp.Body()...), nil
	}
	var body []byte
	if n := resp.Header.ContentLength(); n >= 0 && n <= limit {
		body = make([]byte, n)
		_, err := io.ReadFull(stream, body)
		if err != nil {
			_ = resp.CloseBodyStream()
			return nil, err
		}
		return body, resp.CloseBodyStream()
	}
	// One byte past the limit tells a body of exactly limit bytes (the
	// connection is kept) from a longer one.
	body, err := io.ReadAll(io.LimitReader(stream, int64(limit)+1))
	if err != nil {
		_ = resp.CloseBodyStream()
		return body, err
	}
	if len(body) > limit {
		// The rest is not read: the connection is closed, not drained.
		if c, ok := stream.(fasthttp.ReadCloserWithError); ok {
			_ = c.CloseWithError(fasthttp.ErrBodyTooLarge)
		} else {
			_ = resp.CloseBodyStream()
		}
		return body[:limit], nil
	}
	return body, resp.CloseBodyStream()
}

// connSet holds a sink's open connections, so that a request whose
// context is cancelled (the relay stopping) can be cut short: fasthttp
// takes no context, and closing the connections is how it is told to stop
// waiting.
type connSet struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

// trackedConn leaves its set when closed.
type trackedConn struct {
	net.Conn
	set  *connSet
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.set.mu.Lock()
		delete(c.set.conns, c)
		c.set.mu.Unlock()
	})
	return err
}

func (s *connSet) add(c net.Conn) net.Conn {
	tc := &trackedConn{Conn: c, set: s}
	s.mu.Lock()
	if s.conns == nil {
		s.conns = make(map[*trackedConn]struct{})
	}
	s.conns[tc] = struct{}{}
	s.mu.Unlock()
	return tc
}

// closeAll closes every open connection: requests on them fail at once
// (the sink sees a connection drop, as when the relay is killed).
func (s *connSet) closeAll() {
	s.mu.Lock()
	all := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		_ = c.Close()
	}
}
