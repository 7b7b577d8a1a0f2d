package control

import "io/fs"

// umask is a no-op on Windows: the socket inherits the directory's ACL,
// which is the user's profile.
func umask(m int) int { return 0 }

// fileOwner is not known from a FileInfo on Windows; the directory sits in
// the user's profile.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
