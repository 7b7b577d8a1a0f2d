package sso

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// memFile puts text in an anonymous in-memory file and returns a path that
// opens it, and a function that frees it.
func memFile(text string) (string, func(), bool) {
	fd, err := unix.MemfdCreate("rolecall-aws-config", unix.MFD_CLOEXEC)
	if err != nil {
		return "", nil, false
	}
	f := os.NewFile(uintptr(fd), "rolecall-aws-config")
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return "", nil, false
	}
	return "/proc/self/fd/" + strconv.Itoa(fd), func() { f.Close() }, true
}
