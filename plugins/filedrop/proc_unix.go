//go:build unix

package filedrop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// killSelf ends the process at once, without deferred calls or flushing.
func killSelf() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// stateLock is an exclusive flock on the state directory: two connectors
// (two agents, or a plugin and its not yet reaped predecessor) never work
// one drop at once. The kernel drops it when the process dies.
type stateLock struct{ f *os.File }

// lockState takes the lock, waiting up to 10 s for a previous holder.
func lockState(ctx context.Context, dir string) (*stateLock, error) {
	p := filepath.Join(dir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640) //nolint:gosec // the connector's state directory
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &stateLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock %s: another connector holds the state directory: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (l *stateLock) release() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
