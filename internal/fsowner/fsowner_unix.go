//go:build unix

package fsowner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// LikeDir gives path the owner and group of its directory, when running as
// root and the directory is not root's.
func LikeDir(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, err := owner(filepath.Dir(path))
	if err != nil || uid == 0 {
		return err
	}
	if err := os.Lchown(path, uid, gid); err != nil {
		return fmt.Errorf("give %s the owner of its directory: %w", path, err)
	}
	return nil
}

// MkdirAll makes dir and its missing parents with mode perm, as
// os.MkdirAll does; each directory it makes gets the owner of its parent
// (when running as root and the parent is not root's).
func MkdirAll(dir string, perm os.FileMode) error {
	dir = filepath.Clean(dir)
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("mkdir %s: not a directory", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return LikeDir(dir)
}

func owner(dir string) (uid, gid int, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, nil
	}
	return int(st.Uid), int(st.Gid), nil
}
