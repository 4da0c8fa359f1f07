package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, func(root *cobra.Command, c *cli) {
		af := &adminFlags{configPath: &c.configPath}
		cmd := &cobra.Command{Use: "sites", Short: "Enrolled sites of the running relay (through its admin API)"}
		af.register(cmd)

		var ttl time.Duration
		add := &cobra.Command{
			Use:   "add SITE",
			Short: "Issue a single-use enrollment token for a site (needs an admin token)",
			Long: `Issue a single-use enrollment token for SITE and print it.

The token is bound to the site, expires (default: enrollment.token_ttl, 24h)
and pins the relay's site CA. The relay keeps only its hash: it is shown
this once. Hand it to the site's operator for
  dray-agent enroll --relay https://<relay>:<enrollment port> --token <token>`,
			Args: cobra.ExactArgs(1),
			RunE: func(cc *cobra.Command, args []string) error {
				cl, err := af.client()
				if err != nil {
					return err
				}
				ctx, stop := cmdContext()
				defer stop()
				t := ""
				if ttl > 0 {
					t = ttl.String()
				}
				res, err := cl.AddSite(ctx, args[0], t)
				if err != nil {
					return err
				}
				_, _ = fmt.Fprintln(cc.OutOrStdout(), res.Token)
				_, _ = fmt.Fprintf(cc.ErrOrStderr(), "token for site %s, single use, expires %s\n", res.Site, res.ExpiresAt.UTC().Format(time.RFC3339))
				return nil
			},
		}
		add.Flags().DurationVar(&ttl, "ttl", 0, "token lifetime (default: the relay's enrollment.token_ttl)")
		cmd.AddCommand(add)

		var asJSON bool
		ls := &cobra.Command{
			Use:   "ls",
			Short: "List the sites: state, session, certificate expiry",
			Args:  cobra.NoArgs,
			RunE: func(cc *cobra.Command, _ []string) error {
				cl, err := af.client()
				if err != nil {
					return err
				}
				ctx, stop := cmdContext()
				defer stop()
				list, err := cl.Sites(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cc.OutOrStdout(), list)
				}
				tw := tabwriter.NewWriter(cc.OutOrStdout(), 0, 4, 2, ' ', 0)
				_, _ = fmt.Fprintln(tw, "SITE\tSTATE\tCONNECTED\tREMOTE\tCERT EXPIRES\tTOKEN EXPIRES")
				for _, s := range list {
					certExp, tokExp := "-", "-"
					if !s.CertNotAfter.IsZero() {
						certExp = s.CertNotAfter.UTC().Format(time.RFC3339)
					}
					if s.Token != nil && s.Token.UsedAt.IsZero() {
						tokExp = s.Token.ExpiresAt.UTC().Format(time.RFC3339)
					}
					remote := s.Remote
					if remote == "" {
						remote = "-"
					}
					_, _ = fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\n", s.Site.Site, s.State, s.Connected, remote, certExp, tokExp)
				}
				return tw.Flush()
			},
		}
		ls.Flags().BoolVar(&asJSON, "json", false, "JSON instead of a table")
		cmd.AddCommand(ls)

		var reason string
		revoke := &cobra.Command{
			Use:   "revoke SITE",
			Short: "Revoke a site: its certificates stop working and its session is closed (needs an admin token)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cc *cobra.Command, args []string) error {
				if reason == "" {
					return errors.New("--reason is required: it goes to the audit line")
				}
				cl, err := af.client()
				if err != nil {
					return err
				}
				ctx, stop := cmdContext()
				defer stop()
				s, err := cl.RevokeSite(ctx, args[0], reason)
				if err != nil {
					return err
				}
				_, _ = fmt.Fprintf(cc.OutOrStdout(), "%s\trevoked\t%s\n", s.Site, s.RevokedAt.UTC().Format(time.RFC3339))
				return nil
			},
		}
		revoke.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the audit line)")
		cmd.AddCommand(revoke)
		root.AddCommand(cmd)
	})
}
