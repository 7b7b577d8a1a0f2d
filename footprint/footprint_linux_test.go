package footprint

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestReadOnlySpans(t *testing.T) {
	const maps = `00400000-00a5d000 r-xp 00000000 fd:01 1234 /usr/bin/rolecall
00a5d000-01127000 r--p 0065d000 fd:01 1234 /usr/bin/rolecall
01127000-0118e000 rw-p 00d27000 fd:01 1234 /usr/bin/rolecall
0118e000-011a0000 rw-p 00000000 00:00 0
7f0000000000-7f0000001000 r--s 00000000 fd:01 1234 /usr/bin/rolecall
7f0000002000-7f0000003000 r--p 00000000 fd:01 999 /usr/lib/other
7f0000004000-7f0000005000 r--p 00000000 fd:02 1234 /mnt/same-inode-other-disk
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
`
	spans, err := readOnlySpans(strings.NewReader(maps), devOf(0xfd, 0x01), 1234)
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{0x400000, 0xa5d000}, {0xa5d000, 0x1127000}}
	if len(spans) != len(want) || spans[0] != want[0] || spans[1] != want[1] {
		t.Fatalf("spans = %x, want %x", spans, want)
	}
	if _, err := readOnlySpans(strings.NewReader("zz-00 r-xp 0 fd:01 1234 /x\n"), devOf(0xfd, 0x01), 1234); err == nil {
		t.Fatal("an unreadable mapping of the binary was skipped silently")
	}
}

// devOf is the dev_t of major:minor as Linux encodes it.
func devOf(major, minor uint64) uint64 {
	return (major&0xfff)<<8 | (major&^0xfff)<<32 | minor&0xff | (minor&^0xff)<<12
}

// written is in the binary's writable data (initialised, so file-backed):
// releasing that mapping would put the file's 1 back.
var written = 1

func TestTrimReleasesCodeNotData(t *testing.T) {
	written = 42
	before := rssFile(t)
	released, err := Trim()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	if written != 42 {
		t.Fatalf("a write to the binary's data was lost: %d", written)
	}
	if released == 0 || after >= before {
		t.Fatalf("released %d bytes of mappings; resident file pages %d kB before, %d kB after", released, before, after)
	}
	t.Logf("released %d kB of mappings; resident file pages %d kB before, %d kB after", released>>10, before, after)
}

func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
