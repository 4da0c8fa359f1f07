package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk/pluginpb"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// The go-plugin handshake. The agent sets MagicCookieKey=MagicCookieValue in
// the plugin's environment; a binary started without it refuses to run.
// Connectors in other languages check the same pair.
const (
	MagicCookieKey   = "DRAY_PLUGIN"
	MagicCookieValue = "5f2c1e8a9b7d4c60a1e3f9d2b8c47a15"
	// PluginName is the name the connector service is dispensed under.
	PluginName = "connector"
)

// MaxBatchBytes caps the encoded size of one batch (events, rejects and
// cursor). Emit refuses a larger batch: emit smaller ones. It matches the
// agent spool's limit for one commit (agent/spool), so a batch the SDK
// accepts is one the agent can commit in one transaction.
const MaxBatchBytes = 4 << 20

// exitGrace is how long Serve waits for Read to return after its context is
// cancelled before the process exits anyway.
const exitGrace = 3 * time.Second

// Serve is a connector plugin's main: it performs the go-plugin handshake,
// serves the connector over gRPC with mutual TLS, logs to stderr in hclog
// JSON, and watches its parent. It does not return: the process exits when
// the agent shuts the plugin down (code 0), when the agent process dies
// (code 3), or when the connector is misconfigured (code 1).
func Serve(c Connector) {
	os.Exit(serve(c))
}

func serve(c Connector) int {
	log := Logger()

	// Until the handshake line is out, stdout belongs to go-plugin: anything
	// the connector prints from Info goes to stderr instead.
	realStdout := os.Stdout
	os.Stdout = stderrFile
	info := c.Info()
	os.Stdout = realStdout

	versions, err := checkInfo(c, info)
	if err != nil {
		log.Error("connector refused to start", "error", err)
		return 1
	}

	root, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &server{c: c, info: info, root: root, log: log}

	watchParent(root, func(why string) {
		log.Error("the agent is gone; exiting", "reason", why)
		cancel()
		srv.waitReaders(exitGrace)
		os.Exit(3)
	})

	sets := make(map[int]plugin.PluginSet, len(versions))
	for _, v := range versions {
		sets[v] = plugin.PluginSet{PluginName: &grpcPlugin{srv: srv}}
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  APIVersion,
			MagicCookieKey:   MagicCookieKey,
			MagicCookieValue: MagicCookieValue,
		},
		VersionedPlugins: sets,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxBatchBytes))
			return grpc.NewServer(opts...)
		},
		Logger: hclogger(),
	})
	// The agent shut the plugin down (or the handshake failed, which
	// go-plugin has logged).
	cancel()
	srv.waitReaders(exitGrace)
	return 0
}

// supportedVersions are the API versions this SDK implements.
var supportedVersions = []int{APIVersion}

// checkInfo refuses to serve a connector that describes itself wrongly; it
// returns the API versions to offer in the handshake.
func checkInfo(c Connector, info Info) ([]int, error) {
	var problems []error
	if info.Name == "" {
		problems = append(problems, errors.New("Info.Name is empty"))
	}
	if info.Version == "" {
		problems = append(problems, errors.New("Info.Version is empty"))
	}
	var versions []int
	for _, v := range info.APIVersions {
		if slices.Contains(supportedVersions, v) && !slices.Contains(versions, v) {
			versions = append(versions, v)
		}
	}
	if len(versions) == 0 {
		problems = append(problems, fmt.Errorf("Info.APIVersions %v has no version this SDK speaks (%v)", info.APIVersions, supportedVersions))
	}
	for _, t := range info.EventTypes {
		if _, ok := canonical.LookupType(t); !ok {
			problems = append(problems, fmt.Errorf("Info.EventTypes: %q is not a canonical event type", t))
		}
	}
	if _, ok := c.(Applier); len(info.Commands) > 0 && !ok {
		problems = append(problems, errors.New("Info.Commands is not empty but the connector does not implement Applier"))
	}
	return versions, errors.Join(problems...)
}

// grpcPlugin registers the connector service on go-plugin's gRPC server.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterConnectorServiceServer(s, p.srv)
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: the plugin side has no client")
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)

// server adapts a Connector to the gRPC service.
type server struct {
	pluginpb.UnimplementedConnectorServiceServer

	c    Connector
	info Info
	root context.Context // cancelled when the process is about to exit
	log  *slog.Logger

	configMu   sync.Mutex // serialises Configure
	mu         sync.Mutex
	configured bool // guarded by mu
	reading    bool // guarded by mu
}

// waitReaders waits up to d for a running Read to return.
func (s *server) waitReaders(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		s.mu.Lock()
		reading := s.reading
		s.mu.Unlock()
		if !reading {
			return
		}
		if time.Now().After(deadline) {
			s.log.Warn("Read did not return after its context was cancelled", "waited", d)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
