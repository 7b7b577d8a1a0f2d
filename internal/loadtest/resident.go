//go:build linux

package main

import (
	"bufio"
	"cmp"
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// binaryPages is how much of its own binary a process holds in memory:
// the pages of its mappings of the file that are present (pagemap), by
// ELF section and, for .text, by Go package. Linux maps a 64 KiB window
// (fault-around) on each read fault of a file mapping whose pages are in
// the page cache, so a few scattered touches (one package init each) make
// most of a binary resident although little of it runs: this says where.
type binaryPages struct {
	mapped, resident int64  // bytes of the process's mappings of the file, and of them present
	written          int64  // present pages that are private copies (written .data): anonymous memory
	sections         []span // sections with file contents that are mapped, in file order
	packages         []span // .text by package group (pkgGroup), most resident first
	anon             int64  // the process's RssAnon, bytes
}

// span is one section's or one package group's bytes: linked in the
// binary and, of them, in pages present in the process.
type span struct {
	name             string
	linked, resident int64
}

// readBinaryPages reads which pages of bin the process pid has present.
// bin is the file it runs; the section headers and .gopclntab survive
// `-s -w`, so a release build is read as it is. It needs the right to
// read /proc/PID/pagemap (the process's owner or root).
func readBinaryPages(pid int, bin string) (binaryPages, error) {
	var b binaryPages
	path, err := filepath.Abs(bin)
	if err == nil {
		path, err = filepath.EvalSymlinks(path)
	}
	if err != nil {
		return b, fmt.Errorf("resolve %s: %w", bin, err)
	}
	maps, err := fileMappings(pid, path)
	if err != nil {
		return b, err
	}
	pages, err := presentPages(pid, maps)
	if err != nil {
		return b, err
	}
	for _, m := range maps {
		b.mapped += m.end - m.start
	}
	for _, p := range pages.present {
		if p {
			b.resident += pageSize
		}
	}
	b.written = int64(pages.written) * pageSize
	f, err := elf.Open(path)
	if err != nil {
		return b, fmt.Errorf("read the sections of %s: %w", path, err)
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_ALLOC == 0 || s.Size == 0 || !pages.maps(int64(s.Offset)) {
			continue
		}
		off := int64(s.Offset)
		b.sections = append(b.sections, span{s.Name, int64(s.Size), pages.bytes(off, off+int64(s.Size))})
	}
	if b.packages, err = textByPackage(f, path, pages); err != nil {
		return b, err
	}
	b.anon = int64(status(pid, "RssAnon:")) * 1024
	return b, nil
}

var pageSize = int64(os.Getpagesize())

// mapping is one line of /proc/PID/maps: [start, end) maps the file from
// offset off.
type mapping struct{ start, end, off int64 }

// fileMappings are pid's mappings of the file at path.
func fileMappings(pid int, path string) ([]mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, fmt.Errorf("read the mappings: %w", err)
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fl := strings.Fields(sc.Text())
		if len(fl) != 6 || fl[5] != path {
			continue
		}
		start, end, _ := strings.Cut(fl[0], "-")
		var m mapping
		var e1, e2, e3 error
		m.start, e1 = strconv.ParseInt(start, 16, 64)
		m.end, e2 = strconv.ParseInt(end, 16, 64)
		m.off, e3 = strconv.ParseInt(fl[2], 16, 64)
		if e1 != nil || e2 != nil || e3 != nil {
			return nil, fmt.Errorf("read the mappings: line %q", sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the mappings: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("process %d maps nothing of %s (rebuilt since it started?)", pid, path)
	}
	return out, nil
}

// filePages says, for each page of the file (by offset / pageSize), that
// a mapping of it is present in the process.
type filePages struct {
	present []bool
	mapped  []bool
	written int // present pages that are no longer the file's (copied on write)
}

// presentPages reads the pagemap entries of maps: bit 63 is "present",
// bit 61 "file page or shared anonymous" (clear for a private copy).
func presentPages(pid int, maps []mapping) (filePages, error) {
	var p filePages
	f, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return p, fmt.Errorf("read the page map: %w", err)
	}
	defer f.Close()
	var n int64
	for _, m := range maps {
		n = max(n, (m.off+m.end-m.start)/pageSize)
	}
	p.present = make([]bool, n)
	p.mapped = make([]bool, n)
	for _, m := range maps {
		buf := make([]byte, (m.end-m.start)/pageSize*8)
		if _, err := f.ReadAt(buf, m.start/pageSize*8); err != nil {
			return p, fmt.Errorf("read the page map at %#x: %w", m.start, err)
		}
		for i := range int64(len(buf) / 8) {
			e := binary.LittleEndian.Uint64(buf[8*i:])
			page := m.off/pageSize + i
			p.mapped[page] = true
			if e&(1<<63) != 0 {
				p.present[page] = true
				if e&(1<<61) == 0 {
					p.written++
				}
			}
		}
	}
	return p, nil
}

// maps says that the file byte at off is in a mapping.
func (p filePages) maps(off int64) bool {
	i := off / pageSize
	return i < int64(len(p.mapped)) && p.mapped[i]
}

// bytes counts the bytes of the file range [lo, hi) that lie in present
// pages.
func (p filePages) bytes(lo, hi int64) int64 {
	var n int64
	for lo < hi {
		next := min((lo/pageSize+1)*pageSize, hi)
		if i := lo / pageSize; i < int64(len(p.present)) && p.present[i] {
			n += next - lo
		}
		lo = next
	}
	return n
}

// noFunction names the bytes of .text outside every function of the
// function table: before the first or after the last (a function's end in
// the table is the next one's entry, so the padding between two counts
// with the first).
const noFunction = "(between functions)"

// textByPackage attributes .text to package groups by the function table
// of .gopclntab; the bytes between functions are a group of their own, so
// the groups add up to the section.
func textByPackage(f *elf.File, path string, pages filePages) ([]span, error) {
	text, pcln := f.Section(".text"), f.Section(".gopclntab")
	if text == nil || pcln == nil {
		return nil, fmt.Errorf("%s has no .text or .gopclntab: not a Go binary", path)
	}
	data, err := pcln.Data()
	if err != nil {
		return nil, fmt.Errorf("read .gopclntab of %s: %w", path, err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil, fmt.Errorf("read the function table of %s: %w", path, err)
	}
	modules, mainPath := moduleList(path)
	// File offset of a text address.
	off := func(addr uint64) int64 { return int64(text.Offset) + int64(addr-text.Addr) }
	groups := map[string]*span{}
	add := func(name string, lo, hi uint64) {
		g := groups[name]
		if g == nil {
			g = &span{name: name}
			groups[name] = g
		}
		g.linked += int64(hi - lo)
		g.resident += pages.bytes(off(lo), off(hi))
	}
	at := text.Addr
	for _, fn := range tab.Funcs {
		if fn.Entry > at {
			add(noFunction, at, fn.Entry)
		}
		add(pkgGroup(fn.Sym.PackageName(), modules, mainPath), fn.Entry, fn.End)
		at = max(at, fn.End)
	}
	if end := text.Addr + text.Size; end > at {
		add(noFunction, at, end)
	}
	out := make([]span, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b span) int {
		return cmp.Or(cmp.Compare(b.resident, a.resident), cmp.Compare(b.linked, a.linked), strings.Compare(a.name, b.name))
	})
	return out, nil
}

// moduleList is the module paths linked into the binary at path (its
// build information) and its main module's; none for a binary built
// outside module mode.
func moduleList(path string) (deps []string, main string) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, ""
	}
	for _, d := range bi.Deps {
		deps = append(deps, d.Path)
	}
	return deps, bi.Main.Path
}

// pkgGroup is the group a package's code is counted in: the main
// module's packages by their first directory (internal/X: two), what the
// project can act on; another module's by its module path (each AWS SDK
// service is a module of its own); the standard library by its top
// directory, with net/http apart from the rest of net and internal/X
// (internal/runtime: maps, atomics) one by one. Compiler-generated
// functions (type equality and hash) have no package.
func pkgGroup(pkg string, modules []string, mainPath string) string {
	if pkg == "" {
		return "(compiler-generated)"
	}
	if pkg == "main" {
		return "main"
	}
	if mainPath != "" && (pkg == mainPath || strings.HasPrefix(pkg, mainPath+"/")) {
		rest := strings.TrimPrefix(strings.TrimPrefix(pkg, mainPath), "/")
		return strings.TrimSuffix(filepath.Base(mainPath)+"/"+stdDir(rest), "/")
	}
	best := ""
	for _, m := range modules {
		if (pkg == m || strings.HasPrefix(pkg, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	if best != "" {
		return best
	}
	if rest, ok := strings.CutPrefix(pkg, "vendor/"); ok {
		// The standard library's copies of golang.org/x/net and
		// golang.org/x/crypto.
		return "vendor/" + firstElems(rest, 3)
	}
	first, _, _ := strings.Cut(pkg, "/")
	if strings.Contains(first, ".") {
		// A module the build information does not name (a binary built
		// without it): its repository.
		return firstElems(pkg, 3)
	}
	return stdDir(pkg)
}

// stdDir is the first element of a package path, two for internal/X and
// net/http.
func stdDir(pkg string) string {
	if two := firstElems(pkg, 2); two == "net/http" || strings.HasPrefix(pkg, "internal/") {
		return two
	}
	return firstElems(pkg, 1)
}

// firstElems is the first n slash-separated elements of p.
func firstElems(p string, n int) string {
	e := strings.Split(p, "/")
	return strings.Join(e[:min(n, len(e))], "/")
}

// section is the named section's span (zero if it is not mapped).
func (b binaryPages) section(name string) span {
	for _, s := range b.sections {
		if s.name == name {
			return s
		}
	}
	return span{name: name}
}

// report is the breakdown in a few lines of at most about width
// characters, each starting with indent: the binary's resident pages by
// section (sections under 64 KiB together as "other"), the anonymous
// memory, and the top package groups by resident .text, then the rest
// together.
func (b binaryPages) report(indent string, top, width int) []string {
	const miB = 1 << 20
	var secs []string
	var other span
	for _, s := range b.sections {
		if s.linked < 64<<10 {
			other.linked += s.linked
			other.resident += s.resident
			continue
		}
		secs = append(secs, fmt.Sprintf("%s %.1f/%.1f", s.name, float64(s.resident)/miB, float64(s.linked)/miB))
	}
	secs = append(secs, fmt.Sprintf("other %.1f/%.1f", float64(other.resident)/miB, float64(other.linked)/miB))
	lines := []string{
		fmt.Sprintf("%sbinary's pages resident %.1f of %.1f MiB mapped (%.1f of them written: anonymous); RssAnon %.1f MiB",
			indent, float64(b.resident)/miB, float64(b.mapped)/miB, float64(b.written)/miB, float64(b.anon)/miB),
		indent + "  MiB resident/linked: " + strings.Join(secs, ", "),
	}
	items := make([]string, 0, top+1)
	var rest span
	for i, p := range b.packages {
		if i < top {
			items = append(items, fmt.Sprintf("%s %d/%d", p.name, p.resident>>10, p.linked>>10))
			continue
		}
		rest.linked += p.linked
		rest.resident += p.resident
	}
	if n := len(b.packages) - top; n > 0 {
		items = append(items, fmt.Sprintf("the other %d groups %d/%d", n, rest.resident>>10, rest.linked>>10))
	}
	line := indent + "  .text KiB resident/linked:"
	for i, item := range items {
		item = " " + item
		if i < len(items)-1 {
			item += ","
		}
		if len(line)+len(item) > width {
			lines = append(lines, line)
			line = indent + "   "
		}
		line += item
	}
	return append(lines, line)
}
