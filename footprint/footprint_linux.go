package footprint

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseBinary drops this process's mappings of its executable's
// read-only segments (code, read-only data, the function tables) with
// madvise(MADV_DONTNEED): private, clean, file-backed pages, so the next
// access maps them from the page cache again.
func releaseBinary() (int64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return 0, fmt.Errorf("release the binary's pages: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("release the binary's pages: %w", err)
	}
	defer f.Close()
	spans, err := readOnlySpans(f, st.Dev, st.Ino)
	if err != nil {
		return 0, fmt.Errorf("release the binary's pages: %w", err)
	}
	var released int64
	for _, s := range spans {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, s.start, s.end-s.start, unix.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("release the binary's pages: madvise %#x-%#x: %w", s.start, s.end, errno)
		}
		released += int64(s.end - s.start)
	}
	return released, nil
}

type span struct{ start, end uintptr }

// readOnlySpans reads /proc/PID/maps lines ("start-end perms offset
// major:minor inode path") and returns the mappings of the file dev/ino
// that are neither writable nor shared.
func readOnlySpans(r io.Reader, dev, ino uint64) ([]span, error) {
	var spans []span
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || len(f[1]) != 4 || f[1][1] != '-' || f[1][3] != 'p' {
			continue // writable, shared or malformed
		}
		if f[4] != strconv.FormatUint(ino, 10) || !sameDevice(f[3], dev) {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("unreadable mapping %q", sc.Text())
		}
		spans = append(spans, span{uintptr(start), uintptr(end)})
	}
	return spans, sc.Err()
}

// sameDevice: the maps line's "major:minor" (hex) is dev.
func sameDevice(field string, dev uint64) bool {
	maj, min, ok := strings.Cut(field, ":")
	ma, err1 := strconv.ParseUint(maj, 16, 32)
	mi, err2 := strconv.ParseUint(min, 16, 32)
	return ok && err1 == nil && err2 == nil && uint64(unix.Major(dev)) == ma && uint64(unix.Minor(dev)) == mi
}
