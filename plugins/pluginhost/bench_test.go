//go:build unix

package pluginhost_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
	"github.com/draylink/dray/plugins/pluginhost/internal/testevents"
	"github.com/draylink/dray/plugins/sdk/pluginpb"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// BenchmarkPluginStream measures events per second from a plugin to the
// host over go-plugin gRPC (AutoMTLS on both), for ~1 KB events:
//
//   - sdk: the test connector emits prebuilt events through the SDK, which
//     validates and encodes each one, sends the batch and waits for the
//     host's ack; the host checks each event's id and acks at once (a
//     no-op commit).
//   - bare: a bare go-plugin plugin streams the same events, encoded once
//     up front, with no validation and no acks — the transport alone.
//
// Both run in the same process, so their ratio holds on a noisy machine.
// Where /proc exists, the CPU time of the plugin and of the host per event is
// reported too: on a loaded machine it is steadier than wall time.
// docs/PERFORMANCE.md ("plugin stream") has figures.
func BenchmarkPluginStream(b *testing.B) {
	size := func() int {
		buf, _ := canonical.MarshalBinary(testevents.Count(0))
		return len(buf)
	}()
	for _, batch := range []int{100, 1} {
		b.Run(fmt.Sprintf("sdk/batch=%d", batch), func(b *testing.B) {
			b.SetBytes(int64(size))
			benchSDK(b, batch, false, false)
		})
		b.Run(fmt.Sprintf("sdk-validated/batch=%d", batch), func(b *testing.B) {
			b.SetBytes(int64(size))
			benchSDK(b, batch, true, false)
		})
		b.Run(fmt.Sprintf("sdk-pipelined/batch=%d", batch), func(b *testing.B) {
			b.SetBytes(int64(size))
			benchSDK(b, batch, true, true)
		})
		b.Run(fmt.Sprintf("bare/batch=%d", batch), func(b *testing.B) {
			b.SetBytes(int64(size))
			benchBare(b, batch)
		})
	}
}

// benchSDK streams through the SDK; validated marks the batches as built by
// canonical.NewEvent, as the sql and filedrop connectors do (no second
// validation in the plugin); pipelined lets up to sdk.PipelineDepth
// batches wait for their commit, as the sql connector does.
func benchSDK(b *testing.B, batch int, validated, pipelined bool) {
	bin := build(b, testConnectorPkg)
	ctx := context.Background()
	p, err := pluginhost.Start(ctx, pluginhost.Config{Path: bin, SHA256: hashOf(b, bin), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	cfg := fmt.Sprintf(`{"events": %d, "batch": %d, "prebuilt": true, "validated": %t, "pipelined": %t}`, b.N, batch, validated, pipelined)
	if err := p.Configure(ctx, []byte(cfg)); err != nil {
		b.Fatal(err)
	}
	n := 0
	cpu := startCPU(p.Pid())
	b.ResetTimer()
	err = p.Read(ctx, nil, func(_ context.Context, hb pluginhost.HostBatch) error {
		n += len(hb.Events)
		return nil
	})
	b.StopTimer()
	if err != nil || n != b.N {
		b.Fatalf("read %d events (%v); want %d", n, err, b.N)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	cpu.report(b, n)
}

// cpuMeter measures the CPU time a plugin process and this process spend.
type cpuMeter struct {
	pid           int
	plugin0, host time.Duration
	ok            bool
}

func startCPU(pid int) cpuMeter {
	p, ok := procCPU(pid)
	return cpuMeter{pid: pid, plugin0: p, host: selfCPU(), ok: ok}
}

func (m cpuMeter) report(b *testing.B, events int) {
	p, ok := procCPU(m.pid)
	if !m.ok || !ok || events == 0 {
		return
	}
	b.ReportMetric(float64((p-m.plugin0).Microseconds())/float64(events), "plugin-cpu-µs/event")
	b.ReportMetric(float64((selfCPU()-m.host).Microseconds())/float64(events), "host-cpu-µs/event")
}

// procCPU is the user+system CPU time of pid, from /proc (clock ticks of
// 10 ms, the usual USER_HZ).
func procCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, false
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bareHost is the host half of the bare plugin: it hands over the conn.
type bareHost struct{ plugin.NetRPCUnsupportedPlugin }

func (bareHost) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errors.New("client only") }
func (bareHost) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return c, nil
}

func benchBare(b *testing.B, batch int) {
	bin := build(b, barePluginPkg)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "DRAY_BARE_PLUGIN", MagicCookieValue: "bare"},
		Plugins:          plugin.PluginSet{"bare": bareHost{}},
		Cmd:              exec.Command(bin),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           hclog.NewNullLogger(),
		// The same flow-control windows as pluginhost's, so the two
		// differ only by what the SDK adds.
		GRPCDialOptions: []grpc.DialOption{grpc.WithInitialWindowSize(4 << 20), grpc.WithInitialConnWindowSize(8 << 20)},
	})
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := rpc.Dispense("bare")
	if err != nil {
		b.Fatal(err)
	}
	conn := raw.(*grpc.ClientConn)
	ctx := context.Background()
	cpu := startCPU(client.ReattachConfig().Pid)
	b.ResetTimer()
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/dray.bench.v1.Bare/Stream")
	if err != nil {
		b.Fatal(err)
	}
	if err := stream.SendMsg(&pluginpb.Start{Cursor: []byte(strconv.Itoa(b.N) + "," + strconv.Itoa(batch))}); err != nil {
		b.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		var m pluginpb.Batch
		err := stream.RecvMsg(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		n += len(m.GetEvents())
	}
	b.StopTimer()
	if n != b.N {
		b.Fatalf("received %d events; want %d", n, b.N)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	cpu.report(b, n)
}
