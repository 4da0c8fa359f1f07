package spool

import (
	"io/fs"

	"golang.org/x/sys/windows"
)

// freeBytes returns the space available to the caller on the volume holding
// dir.
func freeBytes(dir string) (int64, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, err
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return 0, err
	}
	return int64(avail), nil
}

// allocatedBytes returns the size of a file; Badger's files are not sparse
// on Windows.
func allocatedBytes(fi fs.FileInfo) int64 { return fi.Size() }

// syncDir is a no-op: Windows cannot open a directory for syncing, and NTFS
// journals the rename.
func syncDir(string) error { return nil }
