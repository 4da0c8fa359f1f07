package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/draylink/dray/relay/siteca"
	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, func(root *cobra.Command, c *cli) {
		cmd := &cobra.Command{Use: "ca", Short: "Site certificate authority (offline: writes the files the configuration names)"}
		var hosts []string
		var force, serverOnly bool
		var caValidity, serverValidity time.Duration
		initCmd := &cobra.Command{
			Use:   "init",
			Short: "Make the site CA (ECDSA P-256) and the relay's server certificate signed by it",
			Long: `Make the site CA and the relay's server certificate.

Writes tls.client_ca_file (the CA certificate), enrollment.ca_key_file (its
key, mode 0600), tls.cert_file (the relay's certificate for --host, followed
by the CA certificate) and tls.key_file (mode 0600). Enrollment tokens pin
the CA's fingerprint, printed at the end. An existing CA is never replaced
without --force: a new CA invalidates every site certificate. Use
--server-only to reissue only the relay's certificate (new host names, or
before it expires).`,
			Args: cobra.NoArgs,
			RunE: func(cc *cobra.Command, _ []string) error {
				cfg, err := c.load()
				if err != nil {
					return err
				}
				if cfg.Enrollment.CAKeyFile == "" {
					return errors.New("enrollment.ca_key_file is not configured: set enrollment.listen and enrollment.ca_key_file first")
				}
				ca, err := siteca.Init(siteca.InitOptions{
					CACertFile: cfg.TLS.ClientCAFile, CAKeyFile: cfg.Enrollment.CAKeyFile,
					ServerCertFile: cfg.TLS.CertFile, ServerKeyFile: cfg.TLS.KeyFile,
					Hosts: hosts, CAValidity: caValidity, ServerValidity: serverValidity,
					ServerOnly: serverOnly, Force: force,
				})
				if err != nil {
					return err
				}
				out := cc.OutOrStdout()
				_, _ = fmt.Fprintf(out, "site CA:            %s (key %s)\n", cfg.TLS.ClientCAFile, cfg.Enrollment.CAKeyFile)
				_, _ = fmt.Fprintf(out, "relay certificate:  %s (key %s) for %v\n", cfg.TLS.CertFile, cfg.TLS.KeyFile, hosts)
				_, _ = fmt.Fprintf(out, "CA fingerprint:     sha256:%s\n", ca.Fingerprint())
				return nil
			},
		}
		initCmd.Flags().StringSliceVar(&hosts, "host", nil, "DNS name or IP address agents use to reach the relay (repeatable; required)")
		initCmd.Flags().BoolVar(&force, "force", false, "replace an existing CA (every enrolled site must enroll again)")
		initCmd.Flags().BoolVar(&serverOnly, "server-only", false, "keep the CA; reissue only the relay's certificate")
		initCmd.Flags().DurationVar(&caValidity, "ca-validity", 10*365*24*time.Hour, "lifetime of the CA")
		initCmd.Flags().DurationVar(&serverValidity, "server-validity", 2*365*24*time.Hour, "lifetime of the relay's certificate")
		_ = initCmd.MarkFlagRequired("host")
		cmd.AddCommand(initCmd)
		root.AddCommand(cmd)
	})
}
