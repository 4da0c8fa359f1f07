package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/internal/crashpoint"
	"github.com/draylink/dray/internal/logsetup"
	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, func(root *cobra.Command, c *cli) {
		root.AddCommand(&cobra.Command{
			Use:   "run",
			Short: "Run the agent until SIGINT or SIGTERM",
			RunE: func(*cobra.Command, []string) error {
				cfg, err := c.load()
				if err != nil {
					return err
				}
				if err := crashpoint.Check(); err != nil {
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
	})
}
