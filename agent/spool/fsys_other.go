//go:build !linux && !darwin && !freebsd && !windows

package spool

import (
	"errors"
	"io/fs"
	"os"
)

// errNoStatfs disables the free-space low-water mark on platforms without a
// supported statfs; Open logs it once.
var errNoStatfs = errors.New("free space unknown on this platform")

func freeBytes(string) (int64, error) { return 0, errNoStatfs }

func allocatedBytes(fi fs.FileInfo) int64 { return fi.Size() }

func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // the spool directory is configuration
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
