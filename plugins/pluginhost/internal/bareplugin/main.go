// Command bareplugin is the benchmark's baseline: a bare go-plugin gRPC
// plugin that streams the same ~1 KB test events, pre-encoded, with no SDK,
// no validation and no acknowledgements.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost/internal/testevents"
	"github.com/draylink/dray/plugins/sdk/pluginpb"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Handshake is the baseline's go-plugin handshake.
var Handshake = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "DRAY_BARE_PLUGIN", MagicCookieValue: "bare"}

// The service: Stream(Start{cursor: "<events>,<batch>"}) streams Batch
// messages of <batch> events until <events> have been sent.
var desc = grpc.ServiceDesc{
	ServiceName: "dray.bench.v1.Bare",
	HandlerType: (*any)(nil),
	Streams:     []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, Handler: stream}},
}

func stream(_ any, s grpc.ServerStream) error {
	var req pluginpb.Start
	if err := s.RecvMsg(&req); err != nil {
		return err
	}
	var total, batch int
	if _, err := fmt.Sscanf(string(req.GetCursor()), "%d,%d", &total, &batch); err != nil || batch <= 0 {
		return fmt.Errorf("bad request %q", req.GetCursor())
	}
	records := make([][]byte, batch)
	for i := range records {
		b, err := canonical.MarshalBinary(testevents.Count(i))
		if err != nil {
			return err
		}
		records[i] = b
	}
	var seq uint64
	for sent := 0; sent < total; {
		n := min(batch, total-sent)
		seq++
		if err := s.SendMsg(&pluginpb.Batch{Seq: seq, Events: records[:n], Cursor: []byte("x")}); err != nil {
			return err
		}
		sent += n
	}
	return nil
}

type barePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (barePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	s.RegisterService(&desc, struct{}{})
	return nil
}

func (barePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("server only")
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{"bare": barePlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          hclog.New(&hclog.LoggerOptions{Output: os.Stderr, Level: hclog.Warn, JSONFormat: true}),
	})
}
