package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay"
	"github.com/draylink/dray/relay/admin"
	"github.com/draylink/dray/relay/dispatch"
	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, func(root *cobra.Command, c *cli) { addAdminCommands(root, &c.configPath) })
}

// adminFlags locate and authenticate to the running relay's admin API.
type adminFlags struct {
	configPath *string
	url        string
	tokenFile  string
}

func (a *adminFlags) register(c *cobra.Command) {
	c.PersistentFlags().StringVar(&a.url, "admin", "", "admin API URL (default: http://<admin.listen> from --config)")
	c.PersistentFlags().StringVar(&a.tokenFile, "token-file", "", "file holding an admin token (default: $DRAY_ADMIN_TOKEN)")
}

func (a *adminFlags) client() (*admin.Client, error) {
	base := a.url
	if base == "" {
		var cfg relay.Config
		if err := configfile.Load(*a.configPath, &cfg); err != nil {
			return nil, fmt.Errorf("no --admin given, and the configuration does not say: %w", err)
		}
		if cfg.Admin.Listen == "" {
			return nil, errors.New("no --admin given and admin.listen is not configured")
		}
		host := cfg.Admin.Listen
		if strings.HasPrefix(host, ":") || strings.HasPrefix(host, "0.0.0.0:") {
			host = "127.0.0.1" + host[strings.LastIndex(host, ":"):]
		}
		base = "http://" + host
	}
	tok := os.Getenv("DRAY_ADMIN_TOKEN")
	if a.tokenFile != "" {
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token: %w", err)
		}
		tok = strings.TrimRight(string(b), "\r\n")
	}
	if tok == "" {
		return nil, errors.New("no admin token: use --token-file or DRAY_ADMIN_TOKEN")
	}
	return &admin.Client{Base: base, Token: tok}, nil
}

func cmdContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseTime reads an RFC 3339 time, or a duration meaning that long ago
// ("90m", "2h").
func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration like 90m", s)
}

func addAdminCommands(root *cobra.Command, configPath *string) {
	af := &adminFlags{configPath: configPath}

	dlqCmd := &cobra.Command{Use: "dlq", Short: "Dead letters of the running relay (through its admin API)"}
	af.register(dlqCmd)
	var sinkName string
	dlqCmd.PersistentFlags().StringVar(&sinkName, "sink", "", "sink name (required)")
	_ = dlqCmd.MarkPersistentFlagRequired("sink")

	var limit int
	var asJSON bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List a sink's dead letters",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := af.client()
			if err != nil {
				return err
			}
			ctx, stop := cmdContext()
			defer stop()
			out := c.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			if !asJSON {
				_, _ = fmt.Fprintln(tw, "ID\tSITE\tTYPE\tROUTE\tSTATUS\tATTEMPTS\tLAST\tREASON")
			}
			after, n := "", 0
			for {
				size := 500
				if limit > 0 {
					size = min(size, limit-n)
				}
				page, err := cl.ListDLQ(ctx, sinkName, after, size)
				if err != nil {
					return err
				}
				for _, s := range page.Items {
					if asJSON {
						if err := json.NewEncoder(out).Encode(s); err != nil {
							return err
						}
					} else {
						_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", s.ID, s.Site, s.EventType, s.Route, s.Status,
							s.Attempts, s.LastAt.UTC().Format(time.RFC3339), s.Reason)
					}
					n++
				}
				if page.Next == "" || (limit > 0 && n >= limit) {
					return tw.Flush()
				}
				after = page.Next
			}
		},
	}
	ls.Flags().IntVar(&limit, "limit", 0, "at most this many (0: all)")
	ls.Flags().BoolVar(&asJSON, "json", false, "JSON lines instead of a table")
	dlqCmd.AddCommand(ls)

	dlqCmd.AddCommand(&cobra.Command{
		Use:   "show ID",
		Short: "Show one dead letter: event, request as sent, response, attempts",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := af.client()
			if err != nil {
				return err
			}
			ctx, stop := cmdContext()
			defer stop()
			dl, err := cl.ShowDLQ(ctx, sinkName, args[0])
			if err != nil {
				return err
			}
			return printJSON(c.OutOrStdout(), dl)
		},
	})

	var all bool
	redrive := &cobra.Command{
		Use:   "redrive [ID...]",
		Short: "Send dead letters again with the current routes; each is removed once the sink takes it",
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := af.client()
			if err != nil {
				return err
			}
			ctx, stop := cmdContext()
			defer stop()
			ids, err := idsOrAll(ctx, cl, sinkName, args, all)
			if err != nil {
				return err
			}
			failed := 0
			for _, id := range ids {
				res, err := cl.Redrive(ctx, sinkName, id)
				if err != nil {
					_, _ = fmt.Fprintf(c.OutOrStdout(), "%s\terror\t%v\n", id, err)
					failed++
					continue
				}
				_, _ = fmt.Fprintf(c.OutOrStdout(), "%s\t%s\tHTTP %d\t%s\n", id, res.Outcome, res.Status, res.Reason)
				if res.Outcome != dispatch.RedriveDelivered && res.Outcome != dispatch.RedriveDuplicate &&
					res.Outcome != dispatch.RedriveFactDelivered {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d dead letters were not delivered", failed, len(ids))
			}
			return nil
		},
	}
	redrive.Flags().BoolVar(&all, "all", false, "every dead letter of the sink")
	dlqCmd.AddCommand(redrive)

	var reason string
	var allDiscard bool
	discard := &cobra.Command{
		Use:   "discard [ID...]",
		Short: "Remove dead letters for good (an audit line records each)",
		RunE: func(c *cobra.Command, args []string) error {
			if reason == "" {
				return errors.New("--reason is required: it goes to the audit line")
			}
			cl, err := af.client()
			if err != nil {
				return err
			}
			ctx, stop := cmdContext()
			defer stop()
			ids, err := idsOrAll(ctx, cl, sinkName, args, allDiscard)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if _, err := cl.Discard(ctx, sinkName, id, reason); err != nil {
					return fmt.Errorf("discard %s: %w", id, err)
				}
				_, _ = fmt.Fprintf(c.OutOrStdout(), "%s\tdiscarded\n", id)
			}
			return nil
		},
	}
	discard.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the audit line)")
	discard.Flags().BoolVar(&allDiscard, "all", false, "every dead letter of the sink")
	dlqCmd.AddCommand(discard)
	root.AddCommand(dlqCmd)

	var rs struct {
		sink, since, until string
		sites, types       []string
		noWait             bool
	}
	replay := &cobra.Command{
		Use:   "replay",
		Short: "Re-send a range of the relay log to one sink, without moving its cursor",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			now := time.Now()
			since, err := parseTime(rs.since, now)
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			until, err := parseTime(rs.until, now)
			if err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			cl, err := af.client()
			if err != nil {
				return err
			}
			ctx, stop := cmdContext()
			defer stop()
			job, err := cl.StartReplay(ctx, rs.sink, dispatch.ReplayRequest{Since: since, Until: until, Sites: rs.sites, Types: rs.types})
			if err != nil {
				return err
			}
			if !rs.noWait {
				if job, err = cl.WaitReplay(ctx, job.ID, 200*time.Millisecond); err != nil {
					return err
				}
			}
			if err := printJSON(c.OutOrStdout(), job); err != nil {
				return err
			}
			if job.State == admin.JobFailed || job.State == admin.JobInterrupted {
				return fmt.Errorf("replay %s %s: %s", job.ID, job.State, job.Error)
			}
			return nil
		},
	}
	af.register(replay)
	replay.Flags().StringVar(&rs.sink, "sink", "", "sink name (required)")
	replay.Flags().StringVar(&rs.since, "since", "", "start: RFC 3339 time or a duration ago, e.g. 2h (required)")
	replay.Flags().StringVar(&rs.until, "until", "", "end (exclusive): RFC 3339 time or a duration ago (default: now)")
	replay.Flags().StringSliceVar(&rs.sites, "site", nil, "only these sites (repeatable)")
	replay.Flags().StringSliceVar(&rs.types, "type", nil, "only these event types, exact or prefix* (repeatable)")
	replay.Flags().BoolVar(&rs.noWait, "no-wait", false, "print the job and return at once")
	_ = replay.MarkFlagRequired("sink")
	_ = replay.MarkFlagRequired("since")
	root.AddCommand(replay)

	sinksCmd := &cobra.Command{
		Use:   "sinks",
		Short: "Show every sink's delivery state (cursor, lag, counters, breaker, dead letters)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := af.client()
			if err != nil {
				return err
			}
			ctx, stop := cmdContext()
			defer stop()
			st, err := cl.Sinks(ctx)
			if err != nil {
				return err
			}
			return printJSON(c.OutOrStdout(), st)
		},
	}
	af.register(sinksCmd)
	root.AddCommand(sinksCmd)
}

func idsOrAll(ctx context.Context, cl *admin.Client, sink string, args []string, all bool) ([]string, error) {
	if all == (len(args) > 0) {
		return nil, errors.New("give dead-letter ids or --all (not both)")
	}
	if !all {
		return args, nil
	}
	var ids []string
	after := ""
	for {
		page, err := cl.ListDLQ(ctx, sink, after, 500)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Items {
			ids = append(ids, s.ID)
		}
		if page.Next == "" {
			return ids, nil
		}
		after = page.Next
	}
}
