//go:build unix

package fsowner

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func ownerOf(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

// TestOwnership: as root, what is made under a service account's
// directory becomes the account's; under root's directory it stays root's.
func TestOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	base := t.TempDir()
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(data, "a", "b")
	if err := MkdirAll(deep, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(data, "a"), deep} {
		if u, g := ownerOf(t, d); u != 4242 || g != 4343 {
			t.Errorf("%s owned by %d:%d; want 4242:4343", d, u, g)
		}
		if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o700 {
			t.Errorf("%s mode %v", d, fi.Mode())
		}
	}
	f := filepath.Join(deep, "key.pem")
	if err := os.WriteFile(f, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := LikeDir(f); err != nil {
		t.Fatal(err)
	}
	if u, g := ownerOf(t, f); u != 4242 || g != 4343 {
		t.Errorf("file owned by %d:%d; want 4242:4343", u, g)
	}
	// Under root's directory: stays root's.
	rootFile := filepath.Join(base, "x", "f")
	if err := MkdirAll(filepath.Dir(rootFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rootFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := LikeDir(rootFile); err != nil {
		t.Fatal(err)
	}
	if u, _ := ownerOf(t, rootFile); u != 0 {
		t.Errorf("file under root's directory owned by %d", u)
	}
	// A file in the way of a directory is an error.
	if err := MkdirAll(f, 0o700); err == nil {
		t.Error("MkdirAll over a file succeeded")
	}
	// Existing directories keep their owner.
	if err := MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(data); fi.Mode().Perm() != 0o750 {
		t.Errorf("existing directory's mode changed: %v", fi.Mode())
	}
}
