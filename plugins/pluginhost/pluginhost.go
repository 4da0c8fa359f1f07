// Package pluginhost is the agent's side of the connector plugin protocol: it
// starts a connector binary through hashicorp/go-plugin, verifies it, talks
// to it over gRPC, and makes sure it never outlives the agent. The agent's
// supervisor uses it; plugin authors never import it (they use plugins/sdk).
//
// A Plugin is one process. pluginhost never restarts anything: a crash, a
// hang or a protocol error is reported to the caller, which kills the Plugin
// and starts a new one (with a new go-plugin Client: go-plugin cannot restart
// one) from its last committed cursor, with backoff.
package pluginhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/draylink/dray/plugins/sdk"
	"github.com/draylink/dray/plugins/sdk/pluginpb"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Errors a Plugin reports; they are wrapped with the operation and details.
var (
	// ErrChecksum: the binary's SHA-256 is not the pinned one; it was not run.
	ErrChecksum = errors.New("plugin binary does not match its pinned SHA-256")
	// ErrCrashed: the process exited without being asked to.
	ErrCrashed = errors.New("plugin process exited unexpectedly")
	// ErrHung: the process stopped heartbeating; it has been killed.
	ErrHung = errors.New("plugin stopped heartbeating and was killed")
	// ErrKilled: Kill was called (or Start's context ended).
	ErrKilled = errors.New("plugin was killed")
	// ErrConnector: the connector itself returned an error.
	ErrConnector = errors.New("connector error")
	// ErrProtocol: the plugin broke the protocol; kill it.
	ErrProtocol = errors.New("plugin protocol error")
)

// Config says how to start one plugin.
type Config struct {
	// Path is the connector binary.
	Path string
	// SHA256 is the binary's pinned SHA-256, in hex. Required.
	SHA256 string
	// Args are the binary's arguments.
	Args []string
	// Env is the plugin's environment ("KEY=value"). The agent's own
	// environment is not inherited, except PATH, HOME, TZ, LANG, LC_ALL,
	// TMPDIR (and SYSTEMROOT, TEMP, TMP on Windows) and GOCOVERDIR.
	Env []string
	// Logger receives the plugin's logs (each stderr line, re-logged with
	// its level and attributes) and pluginhost's. Scope it to the connector.
	// Nil discards.
	Logger *slog.Logger
	// StartTimeout bounds the handshake (default 10 s).
	StartTimeout time.Duration
	// CallTimeout is the deadline of each unary call: Info, Configure,
	// Apply, Ping (default 10 s; a context deadline that comes first wins).
	CallTimeout time.Duration
	// HeartbeatTimeout is how long a Read may go without hearing from the
	// plugin before it is declared hung and killed (default 10 s). The plugin
	// heartbeats four times per timeout.
	HeartbeatTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.StartTimeout <= 0 {
		c.StartTimeout = 10 * time.Second
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 10 * time.Second
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Plugin is one running connector process.
type Plugin struct {
	cfg    Config
	log    *slog.Logger
	client *plugin.Client
	cmd    *exec.Cmd
	rpc    pluginpb.ConnectorServiceClient
	pid    int

	parentW   *os.File      // the agent's end of the parent pipe; closed after exit
	exited    chan struct{} // closed when the process has exited and been reaped
	stdout    *stdoutWatch
	stopWatch func() bool // stops the Start context watch

	killOnce sync.Once
	mu       sync.Mutex
	killed   bool // guarded by mu: Kill was called
}

// windowSize is the HTTP/2 stream window the host offers the plugin.
const windowSize = 4 << 20

// killGrace is how long Kill lets go-plugin's graceful shutdown run before
// it SIGKILLs the process itself (go-plugin's own shutdown call has no
// deadline, so a stopped process would hold it forever).
const killGrace = 3 * time.Second

// Start verifies the binary's SHA-256 against cfg.SHA256, starts it and
// completes the handshake. ctx bounds the plugin's life, like
// exec.CommandContext: when it ends, the plugin is killed.
//
// AutoMTLS is on; the SecureConfig (go-plugin's own checksum check) is built
// fresh for every start, since its hash cannot be reused. On Linux the
// process gets Pdeathsig SIGKILL, set from a goroutine locked to its OS
// thread for the plugin's whole life (Pdeathsig fires when the starting
// thread exits, not the process); everywhere on unix it also gets a pipe
// whose end-of-file tells the SDK the agent is gone.
func Start(ctx context.Context, cfg Config) (*Plugin, error) {
	cfg = cfg.withDefaults()
	path, err := filepath.Abs(cfg.Path)
	if err != nil || cfg.Path == "" {
		return nil, fmt.Errorf("start plugin: bad path %q", cfg.Path)
	}
	want, err := hex.DecodeString(cfg.SHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("start plugin %s: SHA256 must be 64 hex digits, got %q", path, cfg.SHA256)
	}
	got, err := fileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("start plugin: %w", err)
	}
	if !bytes.Equal(got, want) {
		return nil, fmt.Errorf("start plugin %s: %w: expected sha256 %x, actual %x (rebuilt or tampered with? update the pin only if you trust this binary)",
			path, ErrChecksum, want, got)
	}
	log := cfg.Logger

	parentR, parentW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start plugin %s: %w", path, err)
	}
	cmd := exec.Command(path, cfg.Args...) //nolint:gosec // the configured, SHA-256-pinned plugin
	cmd.Env = pluginEnv(cfg, log)
	setupProc(cmd, parentR)

	p := &Plugin{
		cfg:     cfg,
		log:     log,
		cmd:     cmd,
		parentW: parentW,
		exited:  make(chan struct{}),
		stdout:  &stdoutWatch{log: log},
	}
	p.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  sdk.APIVersion,
			MagicCookieKey:   sdk.MagicCookieKey,
			MagicCookieValue: sdk.MagicCookieValue,
		},
		VersionedPlugins: map[int]plugin.PluginSet{
			sdk.APIVersion: {sdk.PluginName: hostPlugin{}},
		},
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: want, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     cfg.StartTimeout,
		Logger:           newHCLogBridge(log, filepath.Base(path)),
		SyncStdout:       p.stdout,
		SyncStderr:       lineWriter(func(s string) { log.Info("plugin stderr", "text", s) }),
		SkipHostEnv:      true,
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(sdk.MaxBatchBytes + 1<<20)),
			// Batches are up to MaxBatchBytes: start with windows that let
			// one through without waiting for window updates.
			grpc.WithInitialWindowSize(windowSize),
			grpc.WithInitialConnWindowSize(2 * windowSize),
		},
	})

	started := make(chan error, 1)
	go p.own(parentR, started)
	if err := <-started; err != nil {
		<-p.exited
		parentW.Close()
		return nil, fmt.Errorf("start plugin %s: %w", path, err)
	}
	p.pid = cmd.Process.Pid // written by cmd.Start before started was sent
	p.log = log.With("pid", p.pid)

	rpcClient, err := p.client.Client()
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("start plugin %s: connect: %w", path, err)
	}
	raw, err := rpcClient.Dispense(sdk.PluginName)
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("start plugin %s: %w", path, err)
	}
	p.rpc = raw.(pluginpb.ConnectorServiceClient)
	if v := p.client.NegotiatedVersion(); v != sdk.APIVersion {
		p.Kill()
		return nil, fmt.Errorf("start plugin %s: %w: negotiated API version %d, want %d", path, ErrProtocol, v, sdk.APIVersion)
	}
	p.stopWatch = context.AfterFunc(ctx, p.Kill)
	return p, nil
}

// own starts the process from a goroutine locked to its OS thread and stays
// there until the process has exited: Pdeathsig fires when the thread that
// forked the plugin exits, so that thread must live exactly as long as the
// plugin. The goroutine never unlocks, so its thread ends with it.
func (p *Plugin) own(parentR *os.File, started chan<- error) {
	runtime.LockOSThread()
	defer close(p.exited)
	_, err := p.client.Start()
	parentR.Close() // the child has its copy
	started <- err
	if err != nil {
		p.client.Kill() // reaps whatever go-plugin started
		return
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		if p.client.Exited() {
			return
		}
	}
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // the configured plugin binary, to be hashed
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("hash %s: %w", path, err)
	}
	return h.Sum(nil), nil
}

// inherited are the variables a plugin gets from the agent's environment;
// everything else comes from Config.Env, so the agent's secrets stay put.
var inherited = []string{"PATH", "HOME", "TZ", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "TEMP", "TMP", "GOCOVERDIR"}

func pluginEnv(cfg Config, log *slog.Logger) []string {
	var env []string
	for _, k := range inherited {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, sdk.EnvLogLevel+"="+levelName(log))
	return append(env, cfg.Env...)
}

func levelName(l *slog.Logger) string {
	ctx := context.Background()
	switch {
	case l.Enabled(ctx, LevelTrace):
		return "trace"
	case l.Enabled(ctx, slog.LevelDebug):
		return "debug"
	case l.Enabled(ctx, slog.LevelInfo):
		return "info"
	case l.Enabled(ctx, slog.LevelWarn):
		return "warn"
	default:
		return "error"
	}
}

// Kill stops the plugin: go-plugin's graceful shutdown first, SIGKILL after
// a short grace, then whatever is left of its process group. It returns when
// the process has exited. Safe to call more than once and concurrently.
func (p *Plugin) Kill() {
	p.killOnce.Do(func() {
		p.mu.Lock()
		p.killed = true
		p.mu.Unlock()
		if p.stopWatch != nil {
			p.stopWatch()
		}
		done := make(chan struct{})
		go func() {
			p.client.Kill()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(killGrace):
			p.log.Warn("plugin did not shut down in time; killing it", "grace", killGrace)
			_ = p.cmd.Process.Kill()
			<-done
		}
		killGroup(p.pid)
		<-p.exited
		p.parentW.Close()
	})
}

// killHung SIGKILLs a plugin that stopped responding, then cleans up.
func (p *Plugin) killHung() {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	_ = p.cmd.Process.Kill()
	p.Kill()
}

// Exited reports whether the process has exited.
func (p *Plugin) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Pid is the plugin's process id.
func (p *Plugin) Pid() int { return p.pid }

// StdoutBytes is how many bytes the plugin wrote to stdout after the
// handshake (each write is also logged as a warning). A well-behaved
// connector writes none.
func (p *Plugin) StdoutBytes() int64 { return p.stdout.bytes.Load() }

// hostPlugin is the host half of go-plugin's plugin definition.
type hostPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

var _ plugin.GRPCPlugin = hostPlugin{}

func (hostPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("pluginhost: the host serves nothing")
}

func (hostPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pluginpb.NewConnectorServiceClient(c), nil
}
