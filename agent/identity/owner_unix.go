//go:build unix

package identity

import (
	"os"
	"syscall"
)

// chownLikeDir gives path the owner of dir when running as root (so that
// `dray-agent enroll` run by root leaves files the service account can
// read).
func chownLikeDir(path, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	return os.Chown(path, int(st.Uid), int(st.Gid))
}
