package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/agent/identity"
	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, func(root *cobra.Command, c *cli) {
		var relayURL, token, tokenFile, serverName string
		var force bool
		cmd := &cobra.Command{
			Use:   "enroll",
			Short: "Enroll this site with the relay: make a key, trade the token for a certificate",
			Long: `Enroll this site with the relay.

Makes a private key here (mode 0600; it never leaves the machine), sends a
certificate request with the token to the relay's enrollment endpoint, and
stores the relay's CA, the certificate and the key where the configuration
points (relay.ca_file, relay.cert_file, relay.key_file; by default in
<data_dir>/identity). The relay is trusted through the CA fingerprint in the
token, not the system's roots. The token must be for the configuration's
site, and works once.`,
			Args: cobra.NoArgs,
			RunE: func(cc *cobra.Command, _ []string) error {
				cfg, err := c.load()
				if err != nil {
					return err
				}
				if relayURL == "" {
					relayURL = cfg.Relay.EnrollURL
				}
				if relayURL == "" {
					return errors.New("no --relay given and relay.enroll_url is not configured")
				}
				if tokenFile != "" {
					b, err := os.ReadFile(tokenFile) //nolint:gosec // the operator names the token file
					if err != nil {
						return fmt.Errorf("read token: %w", err)
					}
					token = strings.TrimSpace(string(b))
				}
				if token == "" {
					token = os.Getenv("DRAY_ENROLL_TOKEN")
				}
				if token == "" {
					return errors.New("no token: use --token, --token-file or DRAY_ENROLL_TOKEN")
				}
				files := agent.IdentityFiles(cfg)
				if _, err := identity.Load(files); err == nil && !force {
					return fmt.Errorf("already enrolled (%s exists): use --force to enroll again with a new token", files.CertFile)
				}
				if serverName == "" {
					serverName = cfg.Relay.ServerName
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				cert, err := identity.Enroll(ctx, identity.EnrollOptions{URL: relayURL, Token: token, Site: cfg.Site,
					ServerName: serverName, Files: files})
				if err != nil {
					return fmt.Errorf("enroll: %w", err)
				}
				_, _ = fmt.Fprintf(cc.OutOrStdout(), "enrolled as site %s; certificate %s valid until %s\n  key %s (0600), relay CA %s\n",
					cfg.Site, files.CertFile, cert.NotAfter.UTC().Format(time.RFC3339), files.KeyFile, files.CAFile)
				if cfg.Relay.EnrollURL == "" {
					_, _ = fmt.Fprintf(cc.OutOrStdout(), "note: set relay.enroll_url: %s in the configuration so that the agent renews its certificate\n", relayURL)
				}
				return nil
			},
		}
		cmd.Flags().StringVar(&relayURL, "relay", "", "the relay's enrollment endpoint, https://host:port (default: relay.enroll_url)")
		cmd.Flags().StringVar(&token, "token", "", "enrollment token from dray-relay sites add (or --token-file, or $DRAY_ENROLL_TOKEN)")
		cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the enrollment token")
		cmd.Flags().StringVar(&serverName, "server-name", "", "name in the relay's certificate (default: relay.server_name, else the URL's host)")
		cmd.Flags().BoolVar(&force, "force", false, "enroll again even if a certificate exists")
		root.AddCommand(cmd)
	})
}
