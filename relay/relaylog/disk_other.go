//go:build !unix

package relaylog

import "io/fs"

// allocated returns the file's size (the platform reports no block count).
func allocated(info fs.FileInfo) int64 { return info.Size() }
