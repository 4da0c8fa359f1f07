// Command dray-relay is the dray relay. See `dray-relay --help`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/internal/logsetup"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/spf13/cobra"
)

func main() {
	if err := root().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dray-relay:", err)
		os.Exit(1)
	}
}

func root() *cobra.Command {
	var configPath string
	load := func() (*relay.Config, error) {
		var cfg relay.Config
		if err := configfile.Load(configPath, &cfg); err != nil {
			return nil, err
		}
		return &cfg, nil
	}
	cmd := &cobra.Command{
		Use:           "dray-relay",
		Short:         "dray relay: agents → relay log → sinks",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.PersistentFlags().StringVar(&configPath, "config", "/etc/dray/relay.yaml", "configuration file")

	cmd.AddCommand(&cobra.Command{
		Use:   "run",
		Short: "Run the relay until SIGINT or SIGTERM",
		RunE: func(*cobra.Command, []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			log, err := logsetup.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return relay.Run(ctx, cfg, log)
		},
	})

	configCmd := &cobra.Command{Use: "config", Short: "Configuration commands"}
	configCmd.AddCommand(&cobra.Command{
		Use:   "validate",
		Short: "Check the configuration file and report every problem",
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := load(); err != nil {
				return err
			}
			_, err := fmt.Fprintln(c.OutOrStdout(), "configuration is valid")
			return err
		},
	})
	cmd.AddCommand(configCmd)

	logCmd := &cobra.Command{Use: "log", Short: "Relay log commands (the relay must be stopped)"}
	var from uint64
	var max int
	dump := &cobra.Command{
		Use:   "dump",
		Short: "Print events from the relay log as JSON lines: {seq, site, received, event}",
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			log, err := logsetup.New(os.Stderr, "warn", "text")
			if err != nil {
				return err
			}
			store, err := relaylog.Open(relay.LogOptions(cfg, log))
			if err != nil {
				return err
			}
			w := bufio.NewWriter(c.OutOrStdout())
			err = dumpLog(store, from, max, w)
			return errors.Join(err, w.Flush(), store.Close())
		},
	}
	dump.Flags().Uint64Var(&from, "from", 1, "first global sequence")
	dump.Flags().IntVar(&max, "max", 0, "at most this many events (0: all)")
	logCmd.AddCommand(dump)
	logCmd.AddCommand(&cobra.Command{
		Use:   "stats",
		Short: "Print the relay log's statistics as JSON",
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			log, err := logsetup.New(os.Stderr, "warn", "text")
			if err != nil {
				return err
			}
			store, err := relaylog.Open(relay.LogOptions(cfg, log))
			if err != nil {
				return err
			}
			enc := json.NewEncoder(c.OutOrStdout())
			enc.SetIndent("", "  ")
			return errors.Join(enc.Encode(store.Stats()), store.Close())
		},
	})
	cmd.AddCommand(logCmd)
	return cmd
}

func dumpLog(store *relaylog.Log, from uint64, max int, w *bufio.Writer) error {
	type line struct {
		Seq      uint64           `json:"seq"`
		Site     string           `json:"site"`
		Received string           `json:"received"`
		Epoch    string           `json:"epoch"`
		Lane     string           `json:"lane"`
		Stream   uint32           `json:"stream"`
		Event    *canonical.Event `json:"event"`
	}
	enc := json.NewEncoder(w)
	n := 0
	var buf []relaylog.Entry
	for {
		var err error
		buf, err = store.Read(from, 1024, buf[:0])
		if err != nil {
			return err
		}
		if len(buf) == 0 {
			return nil
		}
		for _, e := range buf {
			ev, err := canonical.UnmarshalBinary(e.Event)
			if err != nil {
				return fmt.Errorf("event %d: %w", e.Seq, err)
			}
			if err := enc.Encode(line{Seq: e.Seq, Site: e.Site, Received: e.Received.UTC().Format("2006-01-02T15:04:05.000Z"),
				Epoch: e.Epoch, Lane: wire.LaneName(e.Lane), Stream: e.Stream, Event: ev}); err != nil {
				return err
			}
			n++
			if max > 0 && n >= max {
				return nil
			}
			from = e.Seq + 1
		}
	}
}
