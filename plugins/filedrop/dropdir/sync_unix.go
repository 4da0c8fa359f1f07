//go:build !windows

package dropdir

import (
	"fmt"
	"os"
)

// SyncDir fsyncs a directory, making the renames in it durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir) //nolint:gosec // a directory of the drop
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
