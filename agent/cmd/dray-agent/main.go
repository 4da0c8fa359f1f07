// Command dray-agent is the dray edge agent. See `dray-agent --help`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/internal/logsetup"
	"github.com/spf13/cobra"
	_ "time/tzdata" // site time zones on machines without zoneinfo (Windows)
)

func main() {
	if err := root().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dray-agent:", err)
		os.Exit(1)
	}
}

func root() *cobra.Command {
	var configPath string
	load := func() (*agent.Config, error) {
		var cfg agent.Config
		if err := configfile.Load(configPath, &cfg); err != nil {
			return nil, err
		}
		return &cfg, nil
	}
	cmd := &cobra.Command{
		Use:           "dray-agent",
		Short:         "dray edge agent: sources → spool → relay",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.PersistentFlags().StringVar(&configPath, "config", "/etc/dray/agent.yaml", "configuration file")

	cmd.AddCommand(&cobra.Command{
		Use:   "run",
		Short: "Run the agent until SIGINT or SIGTERM",
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
			return agent.Run(ctx, cfg, log)
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

	spoolCmd := &cobra.Command{Use: "spool", Short: "Spool commands (the agent must be stopped)"}
	spoolCmd.AddCommand(&cobra.Command{
		Use:   "stats",
		Short: "Print the spool's streams, sizes and state as JSON",
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			log, err := logsetup.New(os.Stderr, "warn", "text")
			if err != nil {
				return err
			}
			sp, err := spool.Open(agent.SpoolOptions(cfg, log))
			if err != nil {
				return err
			}
			enc := json.NewEncoder(c.OutOrStdout())
			enc.SetIndent("", "  ")
			return errors.Join(enc.Encode(sp.Stats()), sp.Close())
		},
	})
	cmd.AddCommand(spoolCmd)
	return cmd
}
