//go:build !unix

package identity

// chownLikeDir does nothing where files have no Unix owner (Windows: the
// installer grants the service account its data directory).
func chownLikeDir(string, string) error { return nil }
