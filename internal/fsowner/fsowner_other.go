//go:build !unix

package fsowner

import "os"

// LikeDir does nothing where files have no Unix owner (Windows: the
// installer grants the service account its data directory).
func LikeDir(string) error { return nil }

// MkdirAll is os.MkdirAll.
func MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }
