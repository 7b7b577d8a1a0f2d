package sso

import (
	"io/fs"

	"golang.org/x/sys/windows"
)

// inodeOf is the file's index on its volume, Windows' inode: an editor's
// save renamed over the file changes it even when size and time do not.
// 0 when it cannot be read.
func inodeOf(path string, _ fs.FileInfo) uint64 {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0
	}
	h, err := windows.CreateFile(p, 0, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return 0
	}
	defer windows.CloseHandle(h)
	var d windows.ByHandleFileInformation
	if windows.GetFileInformationByHandle(h, &d) != nil {
		return 0
	}
	return uint64(d.FileIndexHigh)<<32 | uint64(d.FileIndexLow)
}
