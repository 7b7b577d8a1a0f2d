package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2/unstable"
)

// writeMu serialises Set's read-modify-write of the file: the owners of
// different keys (pins, favourites, the tray's toggles) write the one file
// from different goroutines, and a change must never undo another.
var writeMu sync.Mutex

// Set writes key = value into the settings file at path, keeping every
// other line (comments and hand edits) as it is. value is a string, bool,
// int or []string. A file that does not parse is left alone: the error
// says so.
func Set(path, key string, value any) error {
	return update(path, key, func(Settings) (any, error) { return value, nil })
}

// nameLists are the keys EditNames edits, and where Settings holds them.
var nameLists = map[string]func(*Settings) *[]string{
	"pinned":    func(s *Settings) *[]string { return &s.Pinned },
	"favorites": func(s *Settings) *[]string { return &s.Favorites },
}

// EditNames changes the list of names under key ("pinned", "favorites")
// as the file on disk holds it now: edit gets the file's list and returns
// the new one, which is written and returned. So a name the user added or
// removed by hand while rolecall runs is kept, not overwritten by what
// rolecall read at start. A file that does not parse is left alone: the
// error says so (and where), and nothing is written.
func EditNames(path, key string, edit func(names []string) []string) ([]string, error) {
	get, ok := nameLists[key]
	if !ok {
		return nil, fmt.Errorf("settings: %q is not a list of names", key)
	}
	var out []string
	err := update(path, key, func(cur Settings) (any, error) {
		out = edit(slices.Clone(*get(&cur)))
		if out == nil {
			out = []string{} // written as [], not dropped
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// update writes key = value(settings the file holds now) into the file at
// path, keeping every other line, under writeMu.
func update(path, key string, value func(Settings) (any, error)) error {
	writeMu.Lock()
	defer writeMu.Unlock()
	if _, ok := fields[key]; !ok {
		return fmt.Errorf("settings: unknown key %q", key)
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("settings: %w", err)
	}
	cur, err := Parse(path, data)
	if err != nil {
		return fmt.Errorf("%w (not changing a file that does not parse: fix it first)", err)
	}
	v, err := value(cur)
	if err != nil {
		return err
	}
	lit, err := literal(v)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	line := key + " = " + lit + "\n"
	if from, to, ok := span(data, key); ok {
		lines = append(lines[:from-1], append([]string{line}, lines[to:]...)...)
	} else {
		if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
			lines[n-1] += "\n"
		}
		lines = append(lines, line)
	}
	out := []byte(strings.Join(lines, ""))
	if _, err := Parse(path, out); err != nil {
		return fmt.Errorf("settings: the change would break the file: %w", err)
	}
	return writeAtomic(path, out)
}

// span finds the lines (1-based, inclusive) that key's value occupies: from
// its line to the line before the next expression, less trailing blank and
// comment lines.
func span(data []byte, key string) (from, to int, ok bool) {
	p := unstable.Parser{KeepComments: true}
	p.Reset(data)
	lines := strings.Split(string(data), "\n")
	for p.NextExpression() {
		e := p.Expression()
		if e.Kind != unstable.KeyValue {
			if from > 0 && e.Kind != unstable.Comment {
				return from, trim(lines, from, lineOfNode(&p, e)-1), true
			}
			continue
		}
		line := lineOf(&p, e)
		if from > 0 {
			return from, trim(lines, from, line-1), true
		}
		it := e.Key()
		if it.Next() && string(it.Node().Data) == key && !it.Next() {
			from = line
		}
	}
	if from > 0 {
		return from, trim(lines, from, len(lines)), true
	}
	return 0, 0, false
}

// trim drops blank and comment lines from the end of lines[from..to].
func trim(lines []string, from, to int) int {
	for to > from {
		s := strings.TrimSpace(lines[to-1])
		if s != "" && !strings.HasPrefix(s, "#") {
			break
		}
		to--
	}
	return to
}

func lineOfNode(p *unstable.Parser, n *unstable.Node) int {
	if n.Kind == unstable.Comment {
		return lineAt(p.Data(), p.Raw(n.Raw))
	}
	return lineOf(p, n)
}

// literal writes a value as TOML.
func literal(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return quote(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]", nil
	}
	return "", fmt.Errorf("settings: cannot write a %T", v)
}

// quote writes a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tempPattern names the temp files of writeAtomic, recognisable so that
// RemoveTemps can find them.
const tempPattern = ".config-*.toml"

// RemoveTemps removes the temp files that a write of the settings file at
// path left behind when it was killed mid-way (kill -9 between create and
// rename), and returns their names. Call it only while no write can be
// running: rolecall does at start, holding its instance lock.
func RemoveTemps(path string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(filepath.Dir(path), tempPattern))
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, n := range names {
		if err := os.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("settings: %w", err)
		}
		removed = append(removed, n)
	}
	return removed, nil
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	// Owner-only, whatever mode the file had: it names the user's
	// accounts and roles (pins, favourites), which other users of the
	// machine have no business reading.
	const mode = os.FileMode(0o600)
	tmp, err := os.CreateTemp(filepath.Dir(path), tempPattern)
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("settings: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("settings: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}
