// Command dray-wmssim is a living warehouse for the demo, the chaos harness
// and benchmarks: a seeded WMS simulator (package testenv/wmssim) that
// writes a WMS database (SQLite or PostgreSQL), CSV movement exports and
// X12 945/214/846 files, and logs every fact it creates as ground truth.
//
//	dray-wmssim run --config sim.yaml         simulate until the configured stop or SIGTERM,
//	                                          then print a one-line summary
//	dray-wmssim schema --dialect sqlite       print the WMS schema (sqlite or postgres)
//	dray-wmssim connectors --config sim.yaml --connector sql-tables|sql-outbox|filedrop [--state-dir DIR]
//	                                          print the connector configuration block (YAML)
//	                                          that reads the simulated WMS as the ground truth expects
//
// The configuration is YAML, read strictly (see package wmssim). SIGTERM or
// SIGINT stops a run cleanly: the current operation completes, pending
// transactions and files are committed, and the ground truth gets its end
// line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/draylink/dray/internal/logsetup"
	"github.com/draylink/dray/testenv/wmssim"
	"go.yaml.in/yaml/v3"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "dray-wmssim:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  dray-wmssim run --config FILE [--log-level info] [--log-format json]
  dray-wmssim schema --dialect sqlite|postgres
  dray-wmssim connectors --config FILE --connector sql-tables|sql-outbox|filedrop [--state-dir DIR]`

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "run":
		return runSim(args[1:], stdout)
	case "schema":
		return schema(args[1:], stdout)
	case "connectors":
		return connectors(args[1:], stdout)
	case "-h", "--help", "help":
		_, err := fmt.Fprintln(stdout, usage)
		return err
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func runSim(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dray-wmssim run", flag.ContinueOnError)
	configPath := fs.String("config", "", "simulator configuration (YAML), required")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "json", "json or text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" || fs.NArg() > 0 {
		return errors.New("run needs --config FILE and no arguments")
	}
	cfg, err := wmssim.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	log, err := logsetup.New(os.Stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	sim, err := wmssim.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := sim.Run(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, "dray-wmssim:", sum)
	return err
}

func schema(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dray-wmssim schema", flag.ContinueOnError)
	dialect := fs.String("dialect", wmssim.SQLite, "sqlite or postgres")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ddl, err := wmssim.Schema(*dialect)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, ddl)
	return err
}

func connectors(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dray-wmssim connectors", flag.ContinueOnError)
	configPath := fs.String("config", "", "simulator configuration (YAML), required")
	which := fs.String("connector", "", "sql-tables, sql-outbox or filedrop")
	stateDir := fs.String("state-dir", "/var/lib/dray/filedrop", "the file-drop connector's state directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		return errors.New("connectors needs --config FILE")
	}
	cfg, err := wmssim.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	var out map[string]any
	switch *which {
	case "sql-tables", "sql-outbox":
		dialect, dsn := wmssim.SQLite, "file:"+cfg.Store.SQLite
		if cfg.Store.Postgres != "" {
			dialect, dsn = wmssim.Postgres, cfg.Store.Postgres
		} else if cfg.Store.SQLite == "" {
			return errors.New("the configuration has no store")
		}
		mode := wmssim.SQLTables
		if *which == "sql-outbox" {
			mode = wmssim.SQLOutbox
		}
		out, err = wmssim.SQLConnectorConfig(cfg, dialect, dsn, mode)
	case "filedrop":
		out, err = wmssim.FileDropConfig(cfg, *stateDir)
	default:
		return fmt.Errorf("--connector %q: want sql-tables, sql-outbox or filedrop", *which)
	}
	if err != nil {
		return err
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}
