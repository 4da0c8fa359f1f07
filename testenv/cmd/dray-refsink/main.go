// Command dray-refsink is a reference ERP or TMS service for tests and the
// demo: it serves the API of package testenv/refsink and keeps a ledger of
// every request it applied.
//
//	dray-refsink --kind erp --listen 127.0.0.1:8081 --data /tmp/erp [--config erp.json]
//
// Flags override the configuration file. SIGTERM or SIGINT shuts it down
// gracefully; SIGKILL loses nothing that was answered (the ledger is fsynced
// before every response).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"

	"github.com/draylink/dray/internal/logsetup"
	"github.com/draylink/dray/testenv/refsink"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "dray-refsink:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("dray-refsink", flag.ContinueOnError)
	kind := fs.String("kind", "", "flavour: erp or tms (overrides the config file)")
	listen := fs.String("listen", "", "TCP address to listen on, e.g. 127.0.0.1:8081 (default 127.0.0.1:0)")
	data := fs.String("data", "", "data directory for the ledger (overrides the config file)")
	configPath := fs.String("config", "", "JSON configuration file: auth, TLS, fault knobs (optional)")
	addrFile := fs.String("addr-file", "", "write the listening address to this file once listening")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "json", "json or text")
	cpuProfile := fs.String("cpu-profile", os.Getenv("DRAY_REFSINK_CPU_PROFILE"),
		"write a CPU profile of the whole run to this file, suffixed with the process id (default $DRAY_REFSINK_CPU_PROFILE; for benchmarks)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var cfg refsink.Config
	if *configPath != "" {
		var err error
		if cfg, err = refsink.LoadConfig(*configPath); err != nil {
			return err
		}
	}
	if *kind != "" {
		cfg.Kind = refsink.Kind(*kind)
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if *data != "" {
		cfg.DataDir = *data
	}
	log, err := logsetup.New(os.Stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	cfg.Logger = log

	srv, err := refsink.NewServer(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("listen: %w", err)
	}
	if *addrFile != "" {
		if err := writeAtomic(*addrFile, []byte(ln.Addr().String())); err != nil {
			_ = ln.Close()
			_ = srv.Close()
			return fmt.Errorf("addr file: %w", err)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", *cpuProfile, os.Getpid()))
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Serve(ctx, ln)
}

// writeAtomic writes b to path by rename, so a reader never sees it half
// written.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".addr-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
