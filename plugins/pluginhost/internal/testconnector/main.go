//go:build unix

// Command testconnector is a connector built on the SDK whose behaviour the
// configuration chooses, for pluginhost's tests and benchmark (and the
// agent's supervisor tests): it emits numbered test events, and can also
// crash, hang, write to stdout, emit invalid events, spawn a child, apply
// commands, or retry a record whose payload is an index
// (TESTCONNECTOR_NO_RETRY=1 serves it without the Retrier ability).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost/internal/testevents"
	"github.com/draylink/dray/plugins/sdk"
)

type config struct {
	// Events is how many events a read emits in total (cursor = next index).
	Events int `json:"events"`
	// Batch is the number of events per Emit.
	Batch int `json:"batch"`
	// Then is what Read does after the last event: "end" (return nil) or
	// "wait" (until cancelled).
	Then string `json:"then"`
	// CrashAfter makes the process exit with status 7 after that many
	// acknowledged batches; HangAfter stops it (SIGSTOP) instead.
	CrashAfter int `json:"crash_after"`
	HangAfter  int `json:"hang_after"`
	// Stdout writes a line to stdout at the start of Read.
	Stdout bool `json:"stdout"`
	// InvalidEvery makes every n-th event invalid.
	InvalidEvery int `json:"invalid_every"`
	// Child spawns a long-lived child process at Configure.
	Child bool `json:"child"`
	// AppliedLog is a file Apply appends command ids to.
	AppliedLog string `json:"applied_log"`
	// IgnoreCancel keeps Read running this long after its ctx ends.
	IgnoreCancel time.Duration `json:"ignore_cancel"`
	// Prebuilt emits the same prebuilt events again and again (benchmark).
	Prebuilt bool `json:"prebuilt"`
	// Validated marks the batches as made by canonical.NewEvent (the SDK
	// skips its own validation; benchmark).
	Validated bool `json:"validated"`
	// Pipelined emits pipelined batches (sdk.Batch.Pipelined), as the sql
	// connector does.
	Pipelined bool `json:"pipelined"`
}

type connector struct {
	cfg   config
	child *exec.Cmd
}

func (c *connector) Info() sdk.Info {
	return sdk.Info{
		Name:        "testconnector",
		Version:     "0.0.1",
		APIVersions: []int{sdk.APIVersion},
		EventTypes:  []string{testevents.Type},
		Commands:    []string{"logistics.order.released"},
	}
}

func (c *connector) Configure(_ context.Context, raw []byte) error {
	var cfg config // decode into a fresh value: a refused Configure leaves nothing behind
	problems := sdk.DecodeConfig(raw, &cfg)
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	switch cfg.Then {
	case "":
		cfg.Then = "end"
	case "end", "wait":
	default:
		problems = append(problems, sdk.FieldError{Path: "then", Msg: `want "end" or "wait"`})
	}
	if len(problems) > 0 {
		return &sdk.ConfigError{Fields: problems}
	}
	c.cfg = cfg
	if c.cfg.Child {
		c.child = exec.Command("sleep", "1000")
		if err := c.child.Start(); err != nil {
			return err
		}
		sdk.Logger().Info("child started", "child_pid", c.child.Process.Pid)
	}
	return nil
}

func (c *connector) Read(ctx context.Context, cursor []byte, out sdk.Emitter) error {
	log := sdk.Logger()
	next := 0
	if cursor != nil {
		n, err := strconv.Atoi(string(cursor))
		if err != nil {
			return fmt.Errorf("bad cursor %q: %w", cursor, err)
		}
		next = n
	}
	if c.cfg.Stdout {
		fmt.Println("hello from a misbehaving connector")
	}
	log.Info("read", "from", next)
	var prebuilt []*canonical.Event
	if c.cfg.Prebuilt {
		for i := range c.cfg.Batch {
			prebuilt = append(prebuilt, testevents.Count(i))
		}
	}
	batches := 0
	for next < c.cfg.Events {
		n := min(c.cfg.Batch, c.cfg.Events-next)
		events := prebuilt[:min(n, len(prebuilt))]
		if !c.cfg.Prebuilt {
			events = make([]*canonical.Event, n)
			for i := range n {
				if c.cfg.InvalidEvery > 0 && (next+i+1)%c.cfg.InvalidEvery == 0 {
					events[i] = testevents.Invalid(next + i)
				} else {
					events[i] = testevents.Count(next + i)
				}
			}
		}
		next += n
		if err := out.Emit(ctx, sdk.Batch{Events: events, Cursor: []byte(strconv.Itoa(next)), Validated: c.cfg.Validated, Pipelined: c.cfg.Pipelined}); err != nil {
			if c.cfg.IgnoreCancel > 0 {
				time.Sleep(c.cfg.IgnoreCancel)
			}
			return err
		}
		batches++
		if c.cfg.CrashAfter > 0 && batches == c.cfg.CrashAfter {
			log.Error("crashing on purpose")
			os.Exit(7)
		}
		if c.cfg.HangAfter > 0 && batches == c.cfg.HangAfter {
			log.Warn("stopping on purpose")
			_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		}
	}
	if c.cfg.Then == "end" {
		return nil
	}
	<-ctx.Done()
	if c.cfg.IgnoreCancel > 0 {
		time.Sleep(c.cfg.IgnoreCancel)
	}
	return ctx.Err()
}

func (c *connector) Apply(_ context.Context, cmd sdk.Command) error {
	if string(cmd.Payload) == `"fail"` {
		return errors.New("the WMS refused the release")
	}
	f, err := os.OpenFile(c.cfg.AppliedLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, cmd.ID, cmd.Type)
	return err
}

// Retry turns a payload holding an index into that test event; anything
// else stays rejected.
func (c *connector) Retry(_ context.Context, r sdk.Reject) (sdk.RetryResult, error) {
	i, err := strconv.Atoi(string(r.Payload))
	if err != nil {
		return sdk.RetryResult{Rejects: []sdk.Reject{{Code: "not_an_index", Reason: fmt.Sprintf("payload %q is not an index", r.Payload), Ref: r.Ref, Payload: r.Payload}}}, nil
	}
	return sdk.RetryResult{Events: []*canonical.Event{testevents.Count(i)}}, nil
}

var (
	_ sdk.Applier = (*connector)(nil)
	_ sdk.Retrier = (*connector)(nil)
)

// noRetry is the connector without the Retrier ability
// (TESTCONNECTOR_NO_RETRY=1 in the environment).
type noRetry struct{ c *connector }

func (n noRetry) Info() sdk.Info                                   { return n.c.Info() }
func (n noRetry) Configure(ctx context.Context, raw []byte) error  { return n.c.Configure(ctx, raw) }
func (n noRetry) Apply(ctx context.Context, cmd sdk.Command) error { return n.c.Apply(ctx, cmd) }
func (n noRetry) Read(ctx context.Context, cursor []byte, out sdk.Emitter) error {
	return n.c.Read(ctx, cursor, out)
}

func main() {
	if os.Getenv("TESTCONNECTOR_NO_RETRY") == "1" {
		sdk.Serve(noRetry{&connector{}})
	}
	sdk.Serve(&connector{})
}
