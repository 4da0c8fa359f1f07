package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/draylink/dray/agent/quarantine"
	"github.com/spf13/cobra"
)

// The quarantine commands ask the running agent (its status endpoint): the
// agent holds the spool, where the records live, while it runs.
func init() {
	commands = append(commands, func(root *cobra.Command, c *cli) {
		var addr string
		cmd := &cobra.Command{
			Use:   "quarantine",
			Short: "List, show and retry quarantined records (asks the running agent)",
			Long: "Records a connector could not turn into valid events, and events the agent refused, wait in\n" +
				"quarantine with their reason. These commands ask the running agent, at the configuration's\n" +
				"status.listen address (or --addr).",
		}
		cmd.PersistentFlags().StringVar(&addr, "addr", "", "the agent's status address (default: status.listen from the configuration)")
		client := func() (*quarantine.Client, error) {
			if addr == "" {
				cfg, err := c.load()
				if err != nil {
					return nil, err
				}
				if cfg.Status.Listen == "" {
					return nil, errors.New("status.listen is not set in the configuration: the agent serves no quarantine API (or pass --addr)")
				}
				addr = cfg.Status.Listen
			}
			base := addr
			if !strings.Contains(base, "://") {
				base = "http://" + base
			}
			return &quarantine.Client{Base: strings.TrimRight(base, "/")}, nil
		}
		cmd.AddCommand(quarantineLs(client), quarantineShow(client), quarantineRetry(client))
		root.AddCommand(cmd)
	})
}

type clientFunc func() (*quarantine.Client, error)

func quarantineLs(client clientFunc) *cobra.Command {
	var f quarantine.Filter
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List quarantined records, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cc *cobra.Command, _ []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			l, err := cl.List(cc.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				return writeIndented(cc.OutOrStdout(), l)
			}
			p := &printer{}
			tw := tabwriter.NewWriter(&p.buf, 0, 4, 2, ' ', 0)
			p.to(tw, "ID\tSOURCE\tCODE\tREF\tATTEMPTS\tFIRST SEEN\tREASON\n")
			for _, r := range l.Records {
				p.to(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.Source, r.Code, clip(r.Ref, 40), r.Attempts,
					r.FirstSeen.Local().Format(time.DateTime), clip(r.Reason, 70))
			}
			p.err = errors.Join(p.err, tw.Flush())
			p.f("%d record(s) shown; %d in quarantine", len(l.Records), l.Total)
			if len(l.Counts) > 0 {
				var parts []string
				for src, n := range l.Counts {
					parts = append(parts, fmt.Sprintf("%s: %d", src, n))
				}
				slices.Sort(parts)
				p.f(" (%s)", strings.Join(parts, ", "))
			}
			p.f("\n")
			if l.Next != "" {
				p.f("more: dray-agent quarantine ls --after %s\n", l.Next)
			}
			return p.flush(cc.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&f.Source, "source", "", "only this connector's records")
	cmd.Flags().StringVar(&f.Code, "code", "", "only records with this reason code")
	cmd.Flags().StringVar(&f.After, "after", "", "list the records after this id (the next page)")
	cmd.Flags().IntVar(&f.Limit, "limit", 100, "records per page (1-1000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func quarantineShow(client clientFunc) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show <id>",
		Short: "Show one record: reason, reference, payload, attempts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cc *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			r, err := cl.Show(cc.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeIndented(cc.OutOrStdout(), r)
			}
			p := &printer{}
			tw := tabwriter.NewWriter(&p.buf, 0, 4, 2, ' ', 0)
			for _, kv := range [][2]string{
				{"id", r.ID}, {"source", r.Source}, {"origin", r.Origin}, {"code", r.Code}, {"reason", r.Reason},
				{"ref", r.Ref}, {"first seen", r.FirstSeen.Local().Format(time.RFC3339)},
				{"last seen", r.LastSeen.Local().Format(time.RFC3339)}, {"attempts", fmt.Sprint(r.Attempts)},
			} {
				p.to(tw, "%s:\t%s\n", kv[0], kv[1])
			}
			if !r.LastAttempt.IsZero() {
				p.to(tw, "last attempt:\t%s\n", r.LastAttempt.Local().Format(time.RFC3339))
				p.to(tw, "last error:\t%s\n", r.LastError)
			}
			p.err = errors.Join(p.err, tw.Flush())
			p.f("payload (%d bytes):\n", len(r.Payload))
			if r.PayloadText != nil {
				p.f("%s\n", *r.PayloadText)
			} else {
				p.f("(binary; --json shows it in base64)\n")
			}
			return p.flush(cc.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (payload in base64, and as text when it is UTF-8)")
	return cmd
}

func quarantineRetry(client clientFunc) *cobra.Command {
	var payloadFile, payloadText string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "retry <id>",
		Short: "Re-process a record with its connector's current configuration",
		Long: "Re-process a record with its connector's current configuration (the connector must implement\n" +
			"sdk.Retrier). With --payload or --payload-file the record's payload is replaced by a corrected\n" +
			"one for this retry. If the record becomes events, they are committed and the record leaves the\n" +
			"quarantine in one transaction; otherwise the attempt is counted and the command exits with 1.",
		Args: cobra.ExactArgs(1),
		RunE: func(cc *cobra.Command, args []string) error {
			var req quarantine.RetryRequest
			switch {
			case payloadFile != "" && cc.Flags().Changed("payload"):
				return errors.New("give --payload or --payload-file, not both")
			case payloadFile != "":
				b, err := readPayload(payloadFile)
				if err != nil {
					return err
				}
				req.Payload = b
			case cc.Flags().Changed("payload"):
				req.PayloadText = &payloadText
			}
			cl, err := client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cc.Context(), 2*time.Minute)
			defer cancel()
			res, err := cl.Retry(ctx, args[0], req)
			if err != nil {
				return err
			}
			p := &printer{}
			switch {
			case asJSON:
				p.err = writeIndented(&p.buf, res)
			case res.Resolved:
				p.f("resolved: %s became %d event(s): %s\n", res.ID, len(res.Events), strings.Join(res.Events, ", "))
			default:
				p.f("still quarantined: %s: %s\n", res.ID, res.Error)
				if res.Record != nil {
					p.f("  attempts: %d\n  code: %s\n  reason: %s\n", res.Record.Attempts, res.Record.Code, res.Record.Reason)
				}
			}
			if err := p.flush(cc.OutOrStdout()); err != nil {
				return err
			}
			if !res.Resolved {
				return errRetryFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&payloadText, "payload", "", "a corrected payload (text) for this retry")
	cmd.Flags().StringVar(&payloadFile, "payload-file", "", "a file holding a corrected payload ('-': standard input)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

var errRetryFailed = errors.New("the record is still in quarantine")

func readPayload(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	b, err := os.ReadFile(path) //nolint:gosec // the operator names the payload file
	if err != nil {
		return nil, fmt.Errorf("read payload: %w", err)
	}
	return b, nil
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// clip shortens s to n runes for a table, on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// printer builds a command's output and keeps the first error.
type printer struct {
	buf bytes.Buffer
	err error
}

func (p *printer) f(format string, args ...any) { p.to(&p.buf, format, args...) }

func (p *printer) to(w io.Writer, format string, args ...any) {
	if _, err := fmt.Fprintf(w, format, args...); err != nil && p.err == nil {
		p.err = err
	}
}

// flush writes the output to w.
func (p *printer) flush(w io.Writer) error {
	if p.err != nil {
		return p.err
	}
	_, err := w.Write(p.buf.Bytes())
	return err
}
