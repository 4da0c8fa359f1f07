//go:build !unix

package filedrop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

func killSelf() { os.Exit(137) }

// stateLock is a lock file held open; without flock, it only documents
// the owner (Windows refuses to delete a file held open).
type stateLock struct{ f *os.File }

func lockState(_ context.Context, dir string) (*stateLock, error) {
	p := filepath.Join(dir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640) //nolint:gosec // the connector's state directory
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return &stateLock{f: f}, nil
}

func (l *stateLock) release() { l.f.Close() }
