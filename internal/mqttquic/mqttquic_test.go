package mqttquic

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/internal/pki"
)

func TestDialAcceptEcho(t *testing.T) {
	ts, err := pki.NewTestSetup()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", ts.ServerTLS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clientTLS, err := ts.ClientTLS("MEM1")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept(context.Background())
		if err != nil {
			t.Error(err)
			return
		}
		site, err := pki.SiteFromConnState(c.ConnectionState())
		if err != nil || site != "MEM1" {
			t.Errorf("site = %q, %v", site, err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Error(err)
			return
		}
		c.Lock()
		_, _ = c.Write(buf)
		c.Unlock()
		_ = c.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, ln.Addr().String(), clientTLS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v; the last bytes before Close must arrive", got, err)
	}
	wg.Wait()
}

func TestDialIsBounded(t *testing.T) {
	ts, _ := pki.NewTestSetup()
	clientTLS, _ := ts.ClientTLS("MEM1")
	// Nothing listens on this UDP port: quic-go would retry until its
	// handshake timeout; the context must cut it short.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Dial(ctx, "127.0.0.1:9", clientTLS, nil); err == nil {
		t.Fatal("dial to nothing succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("dial took %v despite a 300ms context", d)
	}
}

func TestAcceptAfterClose(t *testing.T) {
	ts, _ := pki.NewTestSetup()
	ln, err := Listen("127.0.0.1:0", ts.ServerTLS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	if _, err := ln.Accept(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v; want ErrClosed", err)
	}
}
