// Package udpproxy is a UDP proxy with fault knobs for tests and the chaos
// harness: it sits between agents and the relay's QUIC port and can drop
// every packet (a partition), drop a share of them (packet loss) or delay
// them. Every dropped packet is counted, so a test can prove the fault fired.
package udpproxy

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards datagrams between clients and one target.
type Proxy struct {
	conn   *net.UDPConn
	target *net.UDPAddr

	mu          sync.Mutex
	peers       map[string]*peer // guarded by mu
	partitioned bool             // guarded by mu
	dropRate    float64          // guarded by mu
	delay       time.Duration    // guarded by mu
	closed      bool             // guarded by mu

	forwarded, dropped atomic.Uint64
	wg                 sync.WaitGroup
}

type peer struct {
	client   *net.UDPAddr
	upstream *net.UDPConn
}

// New listens on listenAddr (e.g. "127.0.0.1:0") and forwards to target.
func New(listenAddr, target string) (*Proxy, error) {
	la, err := net.ResolveUDPAddr("udp", listenAddr)
	if err != nil {
		return nil, err
	}
	ta, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", la)
	if err != nil {
		return nil, err
	}
	p := &Proxy{conn: conn, target: ta, peers: map[string]*peer{}}
	p.wg.Add(1)
	go p.fromClients()
	return p, nil
}

// Addr is the address clients send to.
func (p *Proxy) Addr() string { return p.conn.LocalAddr().String() }

// SetPartitioned drops every packet in both directions while on.
func (p *Proxy) SetPartitioned(on bool) {
	p.mu.Lock()
	p.partitioned = on
	p.mu.Unlock()
}

// SetDropRate drops this share (0..1) of packets in each direction.
func (p *Proxy) SetDropRate(rate float64) {
	p.mu.Lock()
	p.dropRate = rate
	p.mu.Unlock()
}

// SetDelay delays every forwarded packet.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Stats returns the packets forwarded and dropped so far.
func (p *Proxy) Stats() (forwarded, dropped uint64) { return p.forwarded.Load(), p.dropped.Load() }

// pass decides the fate of one packet: forward (after a delay) or drop.
func (p *Proxy) pass() (bool, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.partitioned || (p.dropRate > 0 && rand.Float64() < p.dropRate) { //nolint:gosec // fault injection, not security
		p.dropped.Add(1)
		return false, 0
	}
	p.forwarded.Add(1)
	return true, p.delay
}

func (p *Proxy) fromClients() {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, client, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		pe, err := p.peerFor(client)
		if err != nil {
			continue
		}
		ok, delay := p.pass()
		if !ok {
			continue
		}
		pkt := append([]byte(nil), buf[:n]...)
		if delay > 0 {
			time.AfterFunc(delay, func() { _, _ = pe.upstream.Write(pkt) })
			continue
		}
		_, _ = pe.upstream.Write(pkt)
	}
}

func (p *Proxy) peerFor(client *net.UDPAddr) (*peer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("closed")
	}
	if pe, ok := p.peers[client.String()]; ok {
		return pe, nil
	}
	up, err := net.DialUDP("udp", nil, p.target)
	if err != nil {
		return nil, err
	}
	pe := &peer{client: client, upstream: up}
	p.peers[client.String()] = pe
	p.wg.Add(1)
	go p.fromTarget(pe)
	return pe, nil
}

func (p *Proxy) fromTarget(pe *peer) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := pe.upstream.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP port unreachable while the relay is down: keep going
		}
		ok, delay := p.pass()
		if !ok {
			continue
		}
		pkt := append([]byte(nil), buf[:n]...)
		if delay > 0 {
			time.AfterFunc(delay, func() { _, _ = p.conn.WriteToUDP(pkt, pe.client) })
			continue
		}
		_, _ = p.conn.WriteToUDP(pkt, pe.client)
	}
}

// Close stops forwarding and waits for the proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	peers := p.peers
	p.peers = map[string]*peer{}
	p.mu.Unlock()
	err := p.conn.Close()
	for _, pe := range peers {
		_ = pe.upstream.Close()
	}
	p.wg.Wait()
	return err
}
