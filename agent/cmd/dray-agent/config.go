package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, func(root *cobra.Command, c *cli) {
		cmd := &cobra.Command{Use: "config", Short: "Configuration commands"}
		cmd.AddCommand(&cobra.Command{
			Use:   "validate",
			Short: "Check the configuration file and report every problem",
			RunE: func(cc *cobra.Command, _ []string) error {
				if _, err := c.load(); err != nil {
					return err
				}
				_, err := fmt.Fprintln(cc.OutOrStdout(), "configuration is valid")
				return err
			},
		})
		root.AddCommand(cmd)
	})
}
