// Package footprint hands back the pages of the binary that start-up
// mapped and the running process does not need. Start-up runs every
// package's init and every code path of the start once, and the kernel
// maps 64 KiB around each page it faults in: nearly all of a 14 MB binary
// ends up mapped, where a serving process then touches a few hundred
// kilobytes of it. On Linux, Trim drops this process's mappings of the
// binary's read-only segments; a page needed again comes back with a
// minor fault from the page cache (the pages stay cached), never a read
// from disk while the binary is cached. Elsewhere it does nothing.
//
// The heap is left alone: debug.FreeOSMemory at the same point was
// measured to raise idle memory (its collection and the pages the heap
// then takes back cost more than it returned).
package footprint

// Trim releases the binary's read-only mappings (see the package
// comment) and returns how many bytes of mappings it released: 0 where
// the OS offers no way. Writable data is never released.
func Trim() (int64, error) { return releaseBinary() }
