package relay

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/draylink/dray/relay/admin"
	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/dlq"
	"github.com/draylink/dray/relay/ingest"
	"github.com/draylink/dray/relay/metrics"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/sink"
)

// fanOut owns the delivery side of the relay: the dead-letter store, the
// sinks and their dispatchers, and the admin API.
type fanOut struct {
	log         *slog.Logger
	dlq         *dlq.Store
	sinks       []*sink.Sink
	dispatchers []*dispatch.Dispatcher
	adminSrv    *admin.Server
	adminLn     net.Listener
	// ingest is the ingest endpoint once it exists (it starts after the
	// admin API): its sessions are in the metrics.
	ingest atomic.Pointer[ingest.Server]

	dispCtx    context.Context
	stopDisp   context.CancelFunc
	adminCtx   context.Context
	stopAdmin  context.CancelFunc
	dispWG     sync.WaitGroup
	adminWG    sync.WaitGroup
	closeOnce  sync.Once
	stopOnce   sync.Once
	startedAny bool
}

// sinkStatus is a sink's state in the admin API.
type sinkStatus struct {
	Delivery dispatch.Stats `json:"delivery"`
	HTTP     sink.Stats     `json:"http"`
}

type adminSink struct {
	*dispatch.Dispatcher
	http *sink.Sink
}

func (a adminSink) Status() any { return sinkStatus{Delivery: a.Stats(), HTTP: a.http.Stats()} }

// newFanOut builds (but does not start) the fan-out. On error it releases
// what it built.
// sharedDecodes is how many decoded log entries the sinks share: enough
// for sinks that keep up with each other (a few read batches apart); one
// far behind decodes for itself.
const sharedDecodes = 4096

func newFanOut(cfg *Config, store *relaylog.Log, log, audit *slog.Logger, sites admin.Sites) (f *fanOut, err error) {
	f = &fanOut{log: log}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	if len(cfg.Sinks) == 0 && cfg.Admin.Listen == "" {
		return f, nil
	}
	f.dlq, err = dlq.Open(dlq.Options{Dir: DLQDir(cfg.DataDir), Logger: log})
	if err != nil {
		return nil, err
	}
	tables := cfg.RouteTables()
	adminSinks := map[string]admin.Sink{}
	// With several sinks, each log entry is decoded once for all of them.
	var decoded *dispatch.Decoded
	if len(cfg.Sinks) > 1 {
		decoded = dispatch.NewDecoded(sharedDecodes)
	}
	for _, sc := range cfg.Sinks {
		sk, err := sink.New(sc.HTTP, log.With("component", "sink"))
		if err != nil {
			return nil, err
		}
		f.sinks = append(f.sinks, sk)
		d, err := dispatch.New(dispatch.Options{Name: sc.HTTP.Name, Config: sc.Delivery, Log: store,
			Routes: tables[sc.HTTP.Name], Sink: sk, DLQ: f.dlq, Logger: log.With("component", "dispatch"),
			Decoded: decoded})
		if err != nil {
			return nil, err
		}
		// Register before ingest accepts anything: retention keeps what
		// the sink has not delivered from the first event on.
		if _, err := d.Register(); err != nil {
			return nil, err
		}
		f.dispatchers = append(f.dispatchers, d)
		adminSinks[sc.HTTP.Name] = adminSink{Dispatcher: d, http: sk}
	}
	if consumers, err := store.Consumers(); err == nil {
		for name := range consumers {
			s, ok := strings.CutPrefix(name, "sink/")
			if ok && adminSinks[s] == nil {
				log.Warn("a relay log consumer has no configured sink; retention keeps everything after its cursor",
					"consumer", name, "cursor", consumers[name])
			}
		}
	}
	if cfg.Admin.Listen != "" {
		tokens, err := adminTokens(cfg.Admin.Tokens)
		if err != nil {
			return nil, err
		}
		f.adminSrv, err = admin.New(admin.Options{Sinks: adminSinks, DLQ: f.dlq, Tokens: tokens, Sites: sites,
			Audit: audit, Logger: log, RedriveTimeout: cfg.Admin.RedriveTimeout.D(), Metrics: metrics.Handler(f.metricSources(store))})
		if err != nil {
			return nil, err
		}
		f.adminLn, err = net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			return nil, fmt.Errorf("admin API: %w", err)
		}
	}
	return f, nil
}

// start starts the dispatchers, then the admin API.
func (f *fanOut) start() {
	f.startedAny = true
	f.dispCtx, f.stopDisp = context.WithCancel(context.Background())
	for _, d := range f.dispatchers {
		f.dispWG.Go(func() {
			if err := d.Run(f.dispCtx); err != nil {
				f.log.Error("dispatcher stopped with an error", "sink", d.Name(), "err", err)
			}
		})
	}
	if f.adminSrv != nil {
		f.adminCtx, f.stopAdmin = context.WithCancel(context.Background())
		f.adminWG.Go(func() {
			if err := f.adminSrv.Serve(f.adminCtx, f.adminLn); err != nil && !errors.Is(err, net.ErrClosed) {
				f.log.Error("admin API stopped", "err", err)
			}
		})
		f.log.Info("admin API listening", "addr", f.adminLn.Addr().String())
	}
}

// stop stops the admin API, then the dispatchers, and waits for them.
func (f *fanOut) stop() {
	f.stopOnce.Do(func() {
		if !f.startedAny {
			return
		}
		if f.stopAdmin != nil {
			f.stopAdmin()
			f.adminWG.Wait()
		}
		f.stopDisp()
		f.dispWG.Wait()
	})
}

// close stops what runs and releases the stores and clients.
func (f *fanOut) close() {
	f.stop()
	f.closeOnce.Do(func() {
		if f.adminLn != nil && !f.startedAny {
			_ = f.adminLn.Close()
		}
		for _, s := range f.sinks {
			s.Close()
		}
		if f.dlq != nil {
			if err := f.dlq.Close(); err != nil {
				f.log.Error("close dead-letter store", "err", err)
			}
		}
	})
}

// adminTokens reads the configured tokens: hashed, or their secrets from
// the environment or files.
func adminTokens(list []AdminToken) ([]admin.Token, error) {
	var tokens []admin.Token
	for i, t := range list {
		role, err := admin.ParseRole(t.Role)
		if err != nil {
			return nil, fmt.Errorf("admin.tokens[%d] (%s): %w", i, t.Name, err)
		}
		at := admin.Token{Name: t.Name, Role: role}
		if t.SHA256 != "" {
			b, err := hex.DecodeString(t.SHA256)
			if err != nil || len(b) != len(at.SHA256) {
				return nil, fmt.Errorf("admin.tokens[%d] (%s): sha256: want 64 hex digits", i, t.Name)
			}
			copy(at.SHA256[:], b)
		} else if at.Secret, err = t.Secret.Read(); err != nil {
			return nil, fmt.Errorf("admin.tokens[%d] (%s): %w", i, t.Name, err)
		}
		tokens = append(tokens, at)
	}
	return tokens, nil
}

// setIngest gives the metrics the ingest endpoint's sessions.
func (f *fanOut) setIngest(srv *ingest.Server) { f.ingest.Store(srv) }

// metricSources are the counters the metrics read at each scrape.
func (f *fanOut) metricSources(store *relaylog.Log) metrics.Sources {
	return metrics.Sources{
		Log: store.Stats,
		Sessions: func() []ingest.SessionInfo {
			if srv := f.ingest.Load(); srv != nil {
				return srv.Sessions()
			}
			return nil
		},
		Sinks: func() []metrics.Sink {
			out := make([]metrics.Sink, len(f.dispatchers))
			for i, d := range f.dispatchers {
				st := d.Stats()
				out[i] = metrics.Sink{Name: st.Sink, Delivery: st, HTTP: f.sinks[i].Stats(), DeadLetters: f.dlq.Count(st.Sink)}
			}
			return out
		},
	}
}
