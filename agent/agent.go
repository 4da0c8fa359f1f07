package agent

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/draylink/dray/agent/identity"
	"github.com/draylink/dray/agent/metrics"
	"github.com/draylink/dray/agent/quarantine"
	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/agent/supervisor"
	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/agent/uplink"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/plugins/pluginhost"
)

// Source is something that produces events into the spool, committing each
// batch together with its cursor.
type Source interface {
	Name() string
	// Run produces until ctx ends; it returns nil when done or cancelled.
	Run(ctx context.Context, sp synthetic.Committer) error
}

// SpoolDir is where the spool lives inside the data directory.
func SpoolDir(dataDir string) string { return filepath.Join(dataDir, "spool") }

// SpoolOptions turns the configuration into spool options.
func SpoolOptions(cfg *Config, log *slog.Logger) spool.Options {
	opts := spool.Options{
		Dir:          SpoolDir(cfg.DataDir),
		MaxBytes:     int64(cfg.Spool.MaxBytes),
		MaxAge:       cfg.Spool.MaxAge.D(),
		MinFreeBytes: int64(cfg.Spool.MinFreeBytes),
		Logger:       log.With("component", "spool"),
	}
	if len(cfg.Spool.Policies) > 0 {
		opts.Policies = map[canonical.Lane]spool.Policy{}
		for lane, p := range cfg.Spool.Policies {
			l, _ := wire.ParseLane(lane)
			opts.Policies[l] = spool.Backpressure
			if p == "drop_oldest" {
				opts.Policies[l] = spool.DropOldest
			}
		}
	}
	return opts
}

// Run runs the agent until ctx ends.
func Run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	files := IdentityFiles(cfg)
	cert, err := identity.Load(files)
	if err != nil {
		return err
	}
	holder := identity.NewHolder(cert)
	tlsConf, err := identity.ClientTLS(holder, files, serverName(cfg.Relay))
	if err != nil {
		return err
	}
	if site, err := pki.SiteFromCert(holder.Leaf()); err != nil || site != cfg.Site {
		return fmt.Errorf("the certificate %s is for site %q, but the configuration says site %q", cfg.Relay.CertFile, site, cfg.Site)
	}
	sp, err := spool.Open(SpoolOptions(cfg, log))
	if err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	defer func() {
		if err := sp.Close(); err != nil {
			log.Error("close spool", "err", err)
		}
	}()
	codec, err := wire.NewCodec(0, 64<<20)
	if err != nil {
		return err
	}
	defer codec.Close()
	up, err := uplink.New(uplink.Config{
		Site:             cfg.Site,
		QUICAddr:         cfg.Relay.QUIC,
		TCPAddr:          cfg.Relay.TCP,
		TLS:              tlsConf,
		DialTimeout:      cfg.Uplink.DialTimeout.D(),
		QUICRetry:        cfg.Uplink.QUICRetry.D(),
		KeepAlive:        cfg.Uplink.KeepAlive.D(),
		MaxBatchEvents:   cfg.Uplink.MaxBatchEvents,
		MaxBatchBytes:    int(cfg.Uplink.MaxBatchBytes),
		MaxInFlightBytes: int(cfg.Uplink.MaxInFlightBytes),
		Logger:           log,
	}, sp, codec)
	if err != nil {
		return err
	}

	var sources []Source
	for _, s := range cfg.Sources {
		if s.Synthetic != nil {
			sources = append(sources, synthetic.New(s.Name, cfg.Site, *s.Synthetic))
		}
	}
	sups, err := Supervisors(cfg, sp, log)
	if err != nil {
		return err
	}

	// The uplink runs until the very end; sources stop first.
	upCtx, stopUplink := context.WithCancel(context.Background())
	defer stopUplink()
	var upWG sync.WaitGroup
	upWG.Add(1)
	go func() {
		defer upWG.Done()
		if err := up.Run(upCtx); err != nil {
			log.Error("uplink stopped", "err", err)
		}
	}()

	// The renewer swaps the held certificate; the uplink's next handshake
	// presents the new one.
	if cfg.Relay.EnrollURL != "" {
		r := &identity.Renewer{Holder: holder, Files: files, URL: cfg.Relay.EnrollURL, ServerName: cfg.Relay.ServerName, Logger: log}
		upWG.Go(func() {
			if err := r.Run(upCtx); err != nil {
				log.Error("certificate renewer stopped", "err", err)
			}
		})
	}

	var statusWG sync.WaitGroup
	if cfg.Status.Listen != "" {
		srv, ln, err := statusServer(cfg, sp, up, sups, log)
		if err != nil {
			stopUplink()
			upWG.Wait()
			return err
		}
		statusWG.Add(1)
		go func() {
			defer statusWG.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("status server", "err", err)
			}
		}()
		defer func() {
			shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutCtx)
			statusWG.Wait()
		}()
	}

	var srcWG sync.WaitGroup
	for _, src := range sources {
		srcWG.Add(1)
		go func() {
			defer srcWG.Done()
			runSource(ctx, src, sp, log.With("source", src.Name()))
		}()
	}
	// Connectors are sources too: they start last and stop first. Each
	// supervisor restarts its plugin itself and returns once ctx has ended
	// and the plugin is gone.
	for _, sup := range sups {
		srcWG.Go(func() {
			if err := sup.Run(ctx); err != nil {
				log.Error("connector supervisor stopped", "connector", sup.Name(), "err", err)
			}
		})
	}
	log.Info("agent running", "site", cfg.Site, "spool", SpoolDir(cfg.DataDir), "epoch", sp.Epoch(),
		"sources", len(sources), "connectors", len(sups))
	<-ctx.Done()
	log.Info("agent stopping")
	srcWG.Wait()
	stopUplink()
	upWG.Wait()
	return nil
}

// IdentityFiles are the identity files the configuration names.
func IdentityFiles(cfg *Config) identity.Files {
	return identity.Files{CAFile: cfg.Relay.CAFile, CertFile: cfg.Relay.CertFile, KeyFile: cfg.Relay.KeyFile}
}

// Supervisors makes one supervisor per declared connector; none is started.
func Supervisors(cfg *Config, sp supervisor.Store, log *slog.Logger) ([]*supervisor.Supervisor, error) {
	var sups []*supervisor.Supervisor
	for _, c := range cfg.Connectors {
		sup, err := supervisor.New(supervisor.Config{
			Name: c.Name,
			Site: cfg.Site,
			Plugin: pluginhost.Config{
				Path:             c.Path,
				SHA256:           c.SHA256,
				Args:             c.Args,
				Env:              c.EnvList(),
				StartTimeout:     c.Timeouts.Start.D(),
				CallTimeout:      c.Timeouts.Call.D(),
				HeartbeatTimeout: c.Timeouts.Heartbeat.D(),
			},
			Connector:  c.Config.JSON(),
			MinBackoff: c.Restart.MinBackoff.D(),
			MaxBackoff: c.Restart.MaxBackoff.D(),
			Logger:     log,
		}, sp)
		if err != nil {
			return nil, err
		}
		sups = append(sups, sup)
	}
	return sups, nil
}

// runSource runs a source, restarting it with backoff when it fails.
func runSource(ctx context.Context, src Source, sp synthetic.Committer, log *slog.Logger) {
	backoff := time.Second
	for {
		err := src.Run(ctx, sp)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			return
		}
		log.Error("source failed; restarting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}
}

func serverName(r RelayConfig) string {
	if r.ServerName != "" {
		return r.ServerName
	}
	addr := r.QUIC
	if addr == "" {
		addr = r.TCP
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// Status is what /status reports.
type Status struct {
	Site       string            `json:"site"`
	Spool      spool.Stats       `json:"spool"`
	Uplink     uplink.Status     `json:"uplink"`
	Sources    []SourceStatus    `json:"sources"`
	Connectors []ConnectorStatus `json:"connectors"`
	Quarantine QuarantineStatus  `json:"quarantine"`
}

// ConnectorStatus is a connector's supervisor state and its committed
// position.
type ConnectorStatus struct {
	supervisor.Status
	// Cursor is the cursor committed in the spool (text when it is UTF-8,
	// else "hex:…"): where a restarted plugin resumes.
	Cursor string `json:"cursor"`
	// InQuarantine is the number of its records in quarantine now.
	InQuarantine int64 `json:"in_quarantine"`
}

// QuarantineStatus counts the records in quarantine.
type QuarantineStatus struct {
	Total    int64            `json:"total"`
	BySource map[string]int64 `json:"by_source"`
}

// SourceStatus is a source's committed position.
type SourceStatus struct {
	Name string `json:"name"`
	// Cursor is the last committed cursor, hex-encoded (the source decides
	// what it means; the synthetic source's is the big-endian last index).
	Cursor string `json:"cursor"`
}

func statusServer(cfg *Config, sp *spool.Spool, up *uplink.Uplink, sups []*supervisor.Supervisor, log *slog.Logger) (*http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Status.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("status listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", metrics.Handler(metrics.Sources{
		Spool: sp.Stats, Uplink: up.Status, Quarantine: sp.QuarantineCounts,
		Connectors: func() []supervisor.Status {
			out := make([]supervisor.Status, len(sups))
			for i, sup := range sups {
				out[i] = sup.Status()
			}
			return out
		},
	}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		st := Status{Site: cfg.Site, Spool: sp.Stats(), Uplink: up.Status()}
		for _, src := range cfg.Sources {
			cur, err := sp.Cursor(src.Name)
			if err != nil {
				log.Warn("status cursor", "source", src.Name, "err", err)
			}
			st.Sources = append(st.Sources, SourceStatus{Name: src.Name, Cursor: hex.EncodeToString(cur)})
		}
		counts := sp.QuarantineCounts()
		st.Quarantine.BySource = counts
		for _, n := range counts {
			st.Quarantine.Total += n
		}
		st.Connectors = []ConnectorStatus{}
		for _, sup := range sups {
			cur, err := sp.Cursor(sup.Name())
			if err != nil {
				log.Warn("status cursor", "connector", sup.Name(), "err", err)
			}
			st.Connectors = append(st.Connectors, ConnectorStatus{Status: sup.Status(),
				Cursor: supervisor.CursorText(cur), InQuarantine: counts[sup.Name()]})
		}
		if err := enc.Encode(st); err != nil {
			log.Warn("status encode", "err", err)
		}
	})
	byName := make(map[string]*supervisor.Supervisor, len(sups))
	for _, sup := range sups {
		byName[sup.Name()] = sup
	}
	qapi := &quarantine.API{
		Store: sp,
		Connector: func(name string) (quarantine.Retrier, bool) {
			sup, ok := byName[name]
			return sup, ok
		},
		Logger: log.With("component", "quarantine"),
	}
	qapi.Register(mux)
	log.Info("status endpoint", "addr", ln.Addr().String())
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln, nil
}
