// Command dray-agent is the dray edge agent. See `dray-agent --help`.
//
// Each command group lives in its own file and registers itself in
// commands (run.go, config.go, spool.go, …).
package main

import (
	"fmt"
	"os"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/internal/configfile"
	"github.com/spf13/cobra"
	_ "time/tzdata" // site time zones on machines without zoneinfo (Windows)
)

// cli is what every command shares: the --config flag.
type cli struct {
	configPath string
}

// load reads and validates the configuration file.
func (c *cli) load() (*agent.Config, error) {
	var cfg agent.Config
	if err := configfile.Load(c.configPath, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// commands are added to the root command in order; each file appends its own.
var commands []func(root *cobra.Command, c *cli)

func main() {
	if err := root().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dray-agent:", err)
		os.Exit(1)
	}
}

func root() *cobra.Command {
	c := &cli{}
	cmd := &cobra.Command{
		Use:           "dray-agent",
		Short:         "dray edge agent: sources → spool → relay",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.PersistentFlags().StringVar(&c.configPath, "config", "/etc/dray/agent.yaml", "configuration file")
	for _, add := range commands {
		add(cmd, c)
	}
	return cmd
}
