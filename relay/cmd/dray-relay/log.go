package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/logsetup"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, func(root *cobra.Command, c *cli) {
		cmd := &cobra.Command{Use: "log", Short: "Relay log commands (the relay must be stopped)"}
		open := func() (*relaylog.Log, error) {
			cfg, err := c.load()
			if err != nil {
				return nil, err
			}
			log, err := logsetup.New(os.Stderr, "warn", "text")
			if err != nil {
				return nil, err
			}
			return relaylog.Open(relay.LogOptions(cfg, log))
		}
		var from uint64
		var max int
		dump := &cobra.Command{
			Use:   "dump",
			Short: "Print events from the relay log as JSON lines: {seq, site, received, epoch, lane, stream, event}",
			RunE: func(cc *cobra.Command, _ []string) error {
				store, err := open()
				if err != nil {
					return err
				}
				w := bufio.NewWriter(cc.OutOrStdout())
				err = dumpLog(store, from, max, w)
				return errors.Join(err, w.Flush(), store.Close())
			},
		}
		dump.Flags().Uint64Var(&from, "from", 1, "first global sequence")
		dump.Flags().IntVar(&max, "max", 0, "at most this many events (0: all)")
		cmd.AddCommand(dump)
		cmd.AddCommand(&cobra.Command{
			Use:   "stats",
			Short: "Print the relay log's statistics as JSON",
			RunE: func(cc *cobra.Command, _ []string) error {
				store, err := open()
				if err != nil {
					return err
				}
				enc := json.NewEncoder(cc.OutOrStdout())
				enc.SetIndent("", "  ")
				return errors.Join(enc.Encode(store.Stats()), store.Close())
			},
		})
		root.AddCommand(cmd)
	})
}

func dumpLog(store *relaylog.Log, from uint64, max int, w *bufio.Writer) error {
	type line struct {
		Seq      uint64           `json:"seq"`
		Site     string           `json:"site"`
		Received string           `json:"received"`
		Epoch    string           `json:"epoch"`
		Lane     string           `json:"lane"`
		Stream   uint32           `json:"stream"`
		Event    *canonical.Event `json:"event"`
	}
	enc := json.NewEncoder(w)
	n := 0
	var buf []relaylog.Entry
	for {
		var err error
		buf, err = store.Read(from, 1024, buf[:0])
		if err != nil {
			return err
		}
		if len(buf) == 0 {
			return nil
		}
		for _, e := range buf {
			ev, err := canonical.UnmarshalBinary(e.Event)
			if err != nil {
				return fmt.Errorf("event %d: %w", e.Seq, err)
			}
			if err := enc.Encode(line{Seq: e.Seq, Site: e.Site, Received: e.Received.UTC().Format("2006-01-02T15:04:05.000Z"),
				Epoch: e.Epoch, Lane: wire.LaneName(e.Lane), Stream: e.Stream, Event: ev}); err != nil {
				return err
			}
			n++
			if max > 0 && n >= max {
				return nil
			}
			from = e.Seq + 1
		}
	}
}
