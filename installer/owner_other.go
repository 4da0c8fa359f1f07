//go:build !unix

package installer

import "io/fs"

// lchown does nothing where files have no Unix owner (Windows: the data
// directory is granted to the service account with icacls).
func lchown(string, int, int) error { return nil }

func fileOwner(fs.FileInfo) (int, int) { return -1, -1 }
