// Package footprint hands back memory that start-up used and the running
// process does not need: the heap freed since (to the OS at once, rather
// than over minutes by the scavenger) and, on Linux, the mappings of the
// binary's read-only pages. Start-up runs every package's init and opens
// everything once, which maps nearly every page of a 14 MB binary (the
// kernel maps 64 KiB around each page fault); afterwards a serving process
// touches a few hundred kilobytes of it. Released pages stay in the page
// cache: a page the process needs again comes back with a minor fault,
// never a read from disk while the binary is cached.
package footprint

import "runtime/debug"

// Trim frees what start-up left (see the package comment) and returns how
// many bytes of the binary's mappings were released (0 where the OS offers
// no way, or nothing was mapped). Only read-only mappings of the binary are
// touched: writable data is never released.
func Trim() (int64, error) {
	debug.FreeOSMemory()
	return releaseBinary()
}
