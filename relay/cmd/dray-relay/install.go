package main

import (
	"context"
	"os"

	"github.com/draylink/dray/installer"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/internal/logsetup"
	"github.com/draylink/dray/relay"
	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, func(root *cobra.Command, c *cli) {
		installer.AddCommands(root, installer.CommandOptions{
			Name: "dray-relay", DisplayName: "dray relay", User: "dray-relay",
			Description: "dray relay: agents to relay log to sinks",
			ConfigPath:  &c.configPath,
			DataDir: func(path string) (string, error) {
				var cfg relay.Config
				if err := configfile.Load(path, &cfg); err != nil {
					return "", err
				}
				return cfg.DataDir, nil
			},
			Run: func(ctx context.Context, path string) error {
				var cfg relay.Config
				if err := configfile.Load(path, &cfg); err != nil {
					return err
				}
				log, err := logsetup.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
				if err != nil {
					return err
				}
				return relay.Run(ctx, &cfg, log)
			},
		})
	})
}
