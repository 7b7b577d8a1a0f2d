//go:build unix

package sso

import (
	"io/fs"
	"syscall"
)

func inodeOf(_ string, st fs.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Ino)
	}
	return 0
}
