// Command dray-relay is the dray relay. See `dray-relay --help`.
//
// Each command group lives in its own file and registers itself in
// commands (run.go, config.go, log.go, …).
package main

import (
	"fmt"
	"os"

	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay"
	"github.com/spf13/cobra"
)

// cli is what every command shares: the --config flag.
type cli struct {
	configPath string
}

// load reads and validates the configuration file.
func (c *cli) load() (*relay.Config, error) {
	var cfg relay.Config
	if err := configfile.Load(c.configPath, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// commands are added to the root command in order; each file appends its own.
var commands []func(root *cobra.Command, c *cli)

func main() {
	if err := root().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dray-relay:", err)
		os.Exit(1)
	}
}

func root() *cobra.Command {
	c := &cli{}
	cmd := &cobra.Command{
		Use:           "dray-relay",
		Short:         "dray relay: agents → relay log → sinks",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.PersistentFlags().StringVar(&c.configPath, "config", "/etc/dray/relay.yaml", "configuration file")
	for _, add := range commands {
		add(cmd, c)
	}
	return cmd
}
