package ingest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/eclipse/paho.golang/packets"
)

// recordingStore records what reaches the relay log.
type recordingStore struct {
	Store
	mu  sync.Mutex
	got []*relaylog.Incoming
}

func (r *recordingStore) Append(b []*relaylog.Incoming) ([]relaylog.Result, error) {
	r.mu.Lock()
	r.got = append(r.got, b...)
	r.mu.Unlock()
	return r.Store.Append(b)
}

func (r *recordingStore) take() []*relaylog.Incoming {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

const fuzzSite = "FUZZ1"

// FuzzSession feeds arbitrary bytes after a valid CONNECT into a session
// over net.Pipe. It checks that the session ends without a panic, that
// allocation stays bounded by the input (not by declared lengths), and that
// nothing reaches the relay log unless the input held a well-formed batch
// PUBLISH (judged independently, with paho's decoder and the wire package).
func FuzzSession(f *testing.F) {
	state := pipeState(f, fuzzSite)
	codec, err := wire.NewCodec(0, 4<<20)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(codec.Close)
	store := &recordingStore{Store: openLog(f)}
	cfg := Config{TCPAddr: "unused (no listener)", TLS: testPKI().ServerTLS(), MaxPacketSize: 1 << 20,
		ConnectTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	if err := cfg.withDefaults(); err != nil {
		f.Fatal(err)
	}
	srv := newServer(cfg, store, codec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	f.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.Error(err)
		}
	})

	connect := enc(connectPacket(fuzzSite))
	events := testEvents(f, fuzzSite, 1, 3, 400)
	good := makeBatch(codec, "fuzz", 1, events)
	big := makeBatch(codec, "fuzz", 4, testEvents(f, fuzzSite, 4, 8, 1000)) // compressed
	topic := wire.EventsTopic(fuzzSite)
	f.Add(enc(publishPacket(1, topic, good)))
	f.Add(cat(enc(publishPacket(1, topic, good)), enc(publishPacket(2, topic, big)), []byte{0xC0, 0x00, 0xE0, 0x00}))
	f.Add(cat(enc(publishPacket(1, wire.EventsTopic("ATL2"), good)), []byte{0xE0, 0x00}))
	f.Add(enc(&packets.Subscribe{PacketID: 1, Properties: &packets.Properties{},
		Subscriptions: []packets.SubOptions{{Topic: wire.CommandsTopic(fuzzSite), QoS: 1}}}))
	f.Add([]byte{0x32, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3})
	f.Add([]byte{0x32, 0x80, 0x80, 0x3F, 0, 1, 'a'})
	f.Add(connect)

	f.Fuzz(func(t *testing.T, data []byte) {
		store.take()
		conn, clientIn, clientOut := newPipeConn(state)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sess := srv.startSession(conn, "pipe")
		read := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, clientOut)
			close(read)
		}()
		// The input ends with EOF; until then the server reads it all,
		// unless it refuses something and closes (then Write fails).
		_ = clientIn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := clientIn.Write(connect); err == nil {
			_, _ = clientIn.Write(data)
		}
		_ = clientIn.Close()
		select {
		case <-sess.ended:
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end 10s after its input did")
		}
		_ = clientOut.Close()
		<-read
		waitCommitted(t, srv.committer)
		runtime.ReadMemStats(&after)
		if n, limit := after.TotalAlloc-before.TotalAlloc, uint64(16<<20+64*len(data)); n > limit {
			t.Fatalf("allocated %d bytes for %d input bytes (limit %d)", n, len(data), limit)
		}
		got := store.take()
		if len(got) > 0 && !holdsBatch(data, codec) {
			t.Fatalf("%d batches reached the store, but the input holds no well-formed batch PUBLISH", len(got))
		}
		for _, in := range got {
			if in.Site != fuzzSite || uint64(len(in.Events)) != in.Header.Count() {
				t.Fatalf("stored batch of site %q with %d events for header %+v", in.Site, len(in.Events), in.Header)
			}
		}
	})
}

// waitCommitted waits until the committer holds nothing.
func waitCommitted(t *testing.T, c *committer) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		idle := c.queued == 0
		c.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("committer still busy after 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// holdsBatch is the oracle: whether some frame of data is a QoS 1 PUBLISH
// to the fuzz site's events topic whose header and payload the wire
// package accepts, decoded with paho's (lenient) Publish.Unpack.
func holdsBatch(data []byte, codec *wire.Codec) bool {
	for len(data) >= 2 {
		typ, flags := data[0]>>4, data[0]&0x0F
		n, k := 0, 1
		for ; k <= 4 && k < len(data); k++ {
			n |= int(data[k]&0x7F) << (7 * (k - 1))
			if data[k]&0x80 == 0 {
				break
			}
		}
		if k > 4 || k >= len(data) || n > len(data)-k-1 {
			return false
		}
		body := data[k+1 : k+1+n]
		data = data[k+1+n:]
		if typ != packets.PUBLISH || flags>>1&3 != 1 {
			continue
		}
		p := &packets.Publish{QoS: 1, Properties: &packets.Properties{}}
		if p.Unpack(bytes.NewBuffer(bytes.Clone(body))) != nil || p.Topic != wire.EventsTopic(fuzzSite) {
			continue
		}
		var props []wire.Property
		for _, u := range p.Properties.User {
			props = append(props, wire.Property{Key: u.Key, Value: u.Value})
		}
		h, err := wire.ParseHeader(props)
		if err != nil {
			continue
		}
		if _, err := codec.Open(h, p.Payload); err == nil {
			return true
		}
	}
	return false
}
