package handoff

import (
	"net/url"
	"path/filepath"
	"strings"
)

// FileURL is the file:// URL of the local file path: file:///home/… on
// Unix, file:///C:/Users/… on Windows (a path with a drive letter needs the
// third slash, or the drive is read as a host).
func FileURL(path string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// FilePath is the local path that the file:// URL u names, as a browser
// reads it (FileURL's inverse).
func FilePath(u *url.URL) string {
	p := u.Path
	if len(p) > 1 && p[0] == '/' && filepath.VolumeName(filepath.FromSlash(p[1:])) != "" {
		p = p[1:] // /C:/Users/… on Windows
	}
	return filepath.FromSlash(p)
}
