package dropdir

// SyncDir does nothing on Windows, where directories cannot be opened for
// syncing; NTFS journals renames itself.
func SyncDir(string) error { return nil }
