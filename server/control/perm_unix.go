//go:build unix

package control

import (
	"io/fs"
	"syscall"
)

func umask(m int) int { return syscall.Umask(m) }

// fileOwner is the uid owning a file, when the system tells.
func fileOwner(st fs.FileInfo) (int, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(sys.Uid), true
}
