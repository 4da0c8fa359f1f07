package main

import (
	"encoding/json"
	"errors"
	"os"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/internal/logsetup"
	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, func(root *cobra.Command, c *cli) {
		cmd := &cobra.Command{Use: "spool", Short: "Spool commands (the agent must be stopped)"}
		cmd.AddCommand(&cobra.Command{
			Use:   "stats",
			Short: "Print the spool's streams, sizes and state as JSON",
			RunE: func(cc *cobra.Command, _ []string) error {
				cfg, err := c.load()
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
				enc := json.NewEncoder(cc.OutOrStdout())
				enc.SetIndent("", "  ")
				return errors.Join(enc.Encode(sp.Stats()), sp.Close())
			},
		})
		root.AddCommand(cmd)
	})
}
