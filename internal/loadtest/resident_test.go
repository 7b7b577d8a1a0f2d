//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestBinaryPagesOfItself reads this test binary's own resident pages and
// checks what must hold of any process: the package groups add up to the
// resident and linked .text, the runtime (which runs) has resident code,
// no section has more resident than linked, and the present pages of the
// mappings are what the kernel counts as their Rss in smaps.
func TestBinaryPagesOfItself(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := readBinaryPages(os.Getpid(), exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range b.report("", 15, 100) {
		t.Log(l)
	}
	text := b.section(".text")
	if text.linked == 0 || text.resident == 0 {
		t.Fatalf(".text: %+v, want linked and resident bytes", text)
	}
	var sum span
	for _, p := range b.packages {
		sum.linked += p.linked
		sum.resident += p.resident
		if p.resident > p.linked {
			t.Errorf("package group %s: %d resident of %d linked", p.name, p.resident, p.linked)
		}
	}
	if sum.linked != text.linked || sum.resident != text.resident {
		t.Errorf("package groups add up to %d resident of %d linked, .text is %d of %d", sum.resident, sum.linked, text.resident, text.linked)
	}
	if rt := group(b.packages, "runtime"); rt.resident == 0 {
		t.Errorf("runtime: %+v, want resident code", rt)
	}
	var secs int64
	for _, s := range b.sections {
		secs += s.resident
		if s.resident > s.linked {
			t.Errorf("section %s: %d resident of %d linked", s.name, s.resident, s.linked)
		}
	}
	for _, name := range []string{".rodata", ".gopclntab"} {
		if s := b.section(name); s.linked == 0 {
			t.Errorf("section %s not found among %+v", name, b.sections)
		}
	}
	if secs > b.resident || b.resident > b.mapped {
		t.Errorf("sections %d resident, the mappings %d of %d", secs, b.resident, b.mapped)
	}
	if b.anon == 0 {
		t.Error("RssAnon is 0")
	}

	// The kernel's own count: smaps' Rss of the same mappings. Reading
	// runs code for the first time (and faults its pages in), so the
	// three readings are repeated until they agree.
	for try := 0; ; try++ {
		before := smapsRss(t, exe)
		b, err := readBinaryPages(os.Getpid(), exe)
		if err != nil {
			t.Fatal(err)
		}
		after := smapsRss(t, exe)
		if before == b.resident && after == b.resident {
			break
		}
		if try == 20 {
			t.Fatalf("present pages of the binary's mappings: %d bytes; smaps Rss before %d, after %d", b.resident, before, after)
		}
	}
}

// TestPresentPagesOfFile maps a file twice (the second mapping from an
// offset) and writes to a few pages: a write fault to a private mapping
// copies that one page and maps no neighbour (fault-around is for read
// faults), so exactly the written pages are present, as copies.
func TestPresentPagesOfFile(t *testing.T) {
	ps := int(pageSize)
	dir, err := filepath.EvalSymlinks(t.TempDir()) // as /proc/PID/maps names it
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "file")
	if err := os.WriteFile(path, make([]byte, 32*ps), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mmap := func(off, n int) []byte {
		b, err := syscall.Mmap(int(f.Fd()), int64(off*ps), n*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Munmap(b) })
		return b
	}
	whole, tail := mmap(0, 16), mmap(16, 8) // file pages 0-15 and 16-23
	for _, page := range []int{3, 4, 11} {
		whole[page*ps+1] = 1
	}
	tail[2*ps] = 1 // file page 18

	maps, err := fileMappings(os.Getpid(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 2 {
		t.Fatalf("mappings of %s: %+v, want 2", path, maps)
	}
	p, err := presentPages(os.Getpid(), maps)
	if err != nil {
		t.Fatal(err)
	}
	var present []int
	for i, ok := range p.present {
		if ok {
			present = append(present, i)
		}
	}
	if want := []int{3, 4, 11, 18}; !slices.Equal(present, want) || p.written != len(want) {
		t.Errorf("present pages %v (%d written), want %v, all written", present, p.written, want)
	}
	if !p.maps(23*pageSize) || p.maps(24*pageSize) {
		t.Errorf("mapped pages %v, want 0-23", p.mapped)
	}
	for _, c := range []struct{ lo, hi, want int64 }{
		{0, 3 * pageSize, 0},
		{3*pageSize + 100, 5 * pageSize, 2*pageSize - 100},
		{4 * pageSize, 4*pageSize + 10, 10},
		{0, 32 * pageSize, 4 * pageSize}, // past the mappings: nothing
	} {
		if got := p.bytes(c.lo, c.hi); got != c.want {
			t.Errorf("bytes(%d, %d) = %d, want %d", c.lo, c.hi, got, c.want)
		}
	}
}

// group is the named package group's span (zero if there is none).
func group(groups []span, name string) span {
	for _, g := range groups {
		if g.name == name {
			return g
		}
	}
	return span{name: name}
}

// smapsRss sums the Rss of this process's mappings of exe, in bytes.
func smapsRss(t *testing.T, exe string) int64 {
	t.Helper()
	path, err := filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sum int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		switch {
		case len(fl) > 0 && strings.Contains(fl[0], "-") && !strings.HasSuffix(fl[0], ":"):
			in = len(fl) == 6 && fl[5] == path
		case in && len(fl) == 3 && fl[0] == "Rss:":
			kb, err := strconv.ParseInt(fl[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			sum += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestPkgGroup(t *testing.T) {
	modules := []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-sdk-go-v2/service/sts", "github.com/aws/smithy-go", "golang.org/x/sys"}
	const mainPath = "github.com/rolecall/rolecall"
	for _, c := range []struct{ pkg, want string }{
		{"runtime", "runtime"},
		{"internal/runtime/maps", "internal/runtime"},
		{"internal/poll", "internal/poll"},
		{"crypto/internal/fips140/aes", "crypto"},
		{"net", "net"},
		{"net/netip", "net"},
		{"net/http", "net/http"},
		{"net/http/internal/ascii", "net/http"},
		{"net/httptest", "net"},
		{"vendor/golang.org/x/net/http2/hpack", "vendor/golang.org/x/net"},
		{"github.com/aws/aws-sdk-go-v2/service/sts", "github.com/aws/aws-sdk-go-v2/service/sts"},
		{"github.com/aws/aws-sdk-go-v2/service/sts/internal/endpoints", "github.com/aws/aws-sdk-go-v2/service/sts"},
		{"github.com/aws/aws-sdk-go-v2/aws/signer/v4", "github.com/aws/aws-sdk-go-v2"},
		{"github.com/aws/aws-sdk-go-v2/service/ssooidc", "github.com/aws/aws-sdk-go-v2"}, // not in modules: the longest that is
		{"github.com/aws/smithy-go/transport/http", "github.com/aws/smithy-go"},
		{"github.com/godbus/dbus/v5", "github.com/godbus/dbus"}, // no module named: the repository
		{"github.com/rolecall/rolecall/sso", "rolecall/sso"},
		{"github.com/rolecall/rolecall/internal/loadtest", "rolecall/internal/loadtest"},
		{"github.com/rolecall/rolecall/tray/picker", "rolecall/tray"},
		{"github.com/rolecall/rolecall", "rolecall"},
		{"main", "main"},
		{"", "(compiler-generated)"},
	} {
		t.Run(fmt.Sprintf("%q", c.pkg), func(t *testing.T) {
			if got := pkgGroup(c.pkg, modules, mainPath); got != c.want {
				t.Errorf("pkgGroup(%q) = %q, want %q", c.pkg, got, c.want)
			}
		})
	}
}
