package relay

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/admin"
	"github.com/draylink/dray/relay/ingest"
	"github.com/draylink/dray/relay/relaylog"
	"golang.org/x/time/rate"
)

// LogDir is where the relay log lives inside the data directory.
func LogDir(dataDir string) string { return filepath.Join(dataDir, "log") }

// LogOptions turns the configuration into relay log options.
func LogOptions(cfg *Config, log *slog.Logger) relaylog.Options {
	return relaylog.Options{
		Dir:           LogDir(cfg.DataDir),
		Retention:     cfg.Store.Retention.D(),
		IDRetention:   cfg.Store.IDRetention.D(),
		MarkRetention: cfg.Store.FactRetention.D(),
		Logger:        log,
	}
}

// DLQDir is where the dead-letter store lives inside the data directory.
func DLQDir(dataDir string) string { return filepath.Join(dataDir, "dlq") }

// AuditPath is the admin API's audit file inside the data directory.
func AuditPath(dataDir string) string { return filepath.Join(dataDir, "audit.log") }

// SitesPath is the site registry inside the data directory.
func SitesPath(dataDir string) string { return filepath.Join(dataDir, "sites.json") }

// Run runs the relay until ctx ends.
//
// Start order: relay log, audit log, site registry, dead-letter store,
// sinks and their dispatchers (each registered as a relay log consumer
// before any event is accepted), admin API, enrollment endpoint, ingest.
// Stop order is the reverse: ingest stops accepting, the enrollment
// endpoint and the admin API end their calls and replay jobs, the
// dispatchers stop (in-flight requests get a grace period) and write their
// cursors, then the dead-letter store, the audit log and the relay log
// close.
func Run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	tlsConf, err := pki.LoadServerTLS(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.ClientCAFile)
	if err != nil {
		return err
	}
	store, err := relaylog.Open(LogOptions(cfg, log))
	if err != nil {
		return fmt.Errorf("open relay log: %w", err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("close relay log", "err", err)
		}
	}()
	audit := log
	if cfg.Admin.Listen != "" || cfg.Enrollment.Listen != "" {
		af, err := admin.OpenAuditLog(AuditPath(cfg.DataDir))
		if err != nil {
			return err
		}
		defer func() {
			if err := af.Close(); err != nil {
				log.Error("close audit log", "err", err)
			}
		}()
		audit = admin.AuditLogger(af, log)
	}
	sites, err := openSites(cfg, audit, log)
	if err != nil {
		return err
	}
	var adminSites admin.Sites
	if sites != nil {
		adminSites = sites
		defer sites.close()
	}
	fan, err := newFanOut(cfg, store, log, audit, adminSites)
	if err != nil {
		return err
	}
	defer fan.close()
	codec, err := wire.NewCodec(0, int(cfg.Limits.MaxPacketSize)*8)
	if err != nil {
		return err
	}
	defer codec.Close()
	limit := rate.Inf
	if cfg.Limits.RatePerSite > 0 {
		limit = rate.Limit(cfg.Limits.RatePerSite)
	}
	icfg := ingest.Config{
		QUICAddr:       cfg.Listen.QUIC,
		TCPAddr:        cfg.Listen.TCP,
		TLS:            tlsConf,
		ReceiveMaximum: uint16(cfg.Limits.ReceiveMaximum),
		MaxPacketSize:  uint32(cfg.Limits.MaxPacketSize),
		RatePerSite:    limit,
		RateBurst:      cfg.Limits.RateBurst,
		KeepAlive:      cfg.Limits.KeepAlive.D(),
		Logger:         log.With("component", "ingest"),
	}
	if sites != nil {
		icfg.Authorize = sites.authorize
	}
	srv, err := ingest.New(icfg, store, codec)
	if err != nil {
		return err
	}
	fan.setIngest(srv)
	fan.start()
	if sites != nil {
		sites.start(srv)
	}
	log.Info("relay running", "quic", cfg.Listen.QUIC, "tcp", cfg.Listen.TCP, "data", cfg.DataDir,
		"sinks", len(cfg.Sinks), "routes", len(cfg.Routes), "admin", cfg.Admin.Listen, "enrollment", cfg.Enrollment.Listen)
	err = srv.Run(ctx)
	if sites != nil {
		sites.stop()
	}
	fan.stop()
	log.Info("relay stopped")
	return err
}
