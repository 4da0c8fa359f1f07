package udpproxy

import (
	"net"
	"testing"
	"time"
)

func echoServer(t *testing.T) *net.UDPConn {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteToUDP(buf[:n], from)
		}
	}()
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c *net.UDPConn, msg string) bool {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return err == nil && string(buf[:n]) == msg
}

func TestProxyForwardsAndPartitions(t *testing.T) {
	srv := echoServer(t)
	p, err := New("127.0.0.1:0", srv.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	raddr, _ := net.ResolveUDPAddr("udp", p.Addr())
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !roundTrip(t, c, "one") {
		t.Fatal("no echo through the proxy")
	}
	p.SetPartitioned(true)
	if roundTrip(t, c, "two") {
		t.Fatal("echo during a partition")
	}
	if _, dropped := p.Stats(); dropped == 0 {
		t.Fatal("partition dropped nothing")
	}
	p.SetPartitioned(false)
	if !roundTrip(t, c, "three") {
		t.Fatal("no echo after the partition healed")
	}
	p.SetDropRate(1)
	if roundTrip(t, c, "four") {
		t.Fatal("echo with a drop rate of 1")
	}
}
