//go:build unix

package sdk

import (
	"context"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"
)

// parentPoll is how often the parent's pid is checked.
const parentPoll = 500 * time.Millisecond

// watchParent calls gone (once, from its own goroutine) when the process that
// started this plugin dies: the agent's pipe (EnvParentFD) reaches
// end-of-file, or the parent pid changes (the plugin was re-parented to init
// or a subreaper). The agent also sets Pdeathsig on Linux; this covers the
// other systems, a plugin started by something else, and a pipe that outlives
// a re-exec. The watch stops when ctx ends.
func watchParent(ctx context.Context, gone func(why string)) {
	fired := make(chan string, 2)
	if s := os.Getenv(EnvParentFD); s != "" {
		if fd, err := strconv.Atoi(s); err == nil && fd > 2 {
			syscall.CloseOnExec(fd) // the connector's own children must not hold it
			f := os.NewFile(uintptr(fd), "dray-parent")
			go func() {
				_, _ = io.Copy(io.Discard, f)
				fired <- "the agent's pipe closed"
			}()
		}
	}
	ppid := os.Getppid()
	go func() {
		t := time.NewTicker(parentPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if p := os.Getppid(); p != ppid {
					fired <- "parent process " + strconv.Itoa(ppid) + " exited"
					return
				}
			}
		}
	}()
	go func() {
		select {
		case why := <-fired:
			gone(why)
		case <-ctx.Done():
		}
	}()
}
