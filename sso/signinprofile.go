package sso

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rolecall/rolecall/private"
)

// setLoginProfile makes profile a login_session profile of arn in the AWS
// config at path, as `aws login` does: login_session set (or replaced),
// region added when the profile has none; every other line of the file
// stays as it was. Nothing is written when the profile says so already.
func setLoginProfile(path, profile, arn, region string) error {
	text, err := readText(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read AWS config %s: %w", path, err)
	}
	next := withLoginProfile(text, profile, arn, region)
	if next == text {
		return nil
	}
	if err := writeKeepingMode(path, []byte(next)); err != nil {
		return fmt.Errorf("write profile %s to %s: %w", profile, path, err)
	}
	return nil
}

// withLoginProfile is text with profile's section holding login_session =
// arn (and region, when it has none): the section's first header is
// edited in place, or a section is appended.
func withLoginProfile(text, profile, arn, region string) string {
	rc := parseSections(text)
	key := spanKey{'p', profile}
	if profile == "default" && len(rc.spans[key]) == 0 {
		key = spanKey{'d', "default"}
	}
	spans := rc.spans[key]
	if len(spans) == 0 {
		header := "[profile " + profile + "]"
		if profile == "default" {
			header = "[default]"
		}
		sep := ""
		if text != "" && !strings.HasSuffix(text, "\n") {
			sep = "\n"
		}
		if text != "" {
			sep += "\n"
		}
		return text + sep + header + "\nlogin_session = " + arn + "\nregion = " + region + "\n"
	}
	sec := rc.profiles[profile]
	if key.kind == 'd' {
		sec = rc.plainDefault
	}
	if sec["login_session"] == arn && sec["region"] != "" {
		return text
	}
	sp := spans[0]
	body := text[sp.start:sp.end]
	lines := strings.SplitAfter(body, "\n")
	var out strings.Builder
	for i, line := range lines {
		k, _, ok := splitProperty(cutPropertyComment(strings.TrimRight(line, "\r\n")))
		if i > 0 && ok && lowerKey(k) == "login_session" && line == strings.TrimLeft(line, " \t") {
			out.WriteString("login_session = " + arn + "\n")
			continue
		}
		out.WriteString(line)
		if i == 0 {
			if !strings.HasSuffix(line, "\n") {
				out.WriteString("\n")
			}
			if sec["region"] == "" {
				out.WriteString("region = " + region + "\n")
			}
			if sec["login_session"] == "" {
				out.WriteString("login_session = " + arn + "\n")
			}
		}
	}
	return text[:sp.start] + out.String() + text[sp.end:]
}

// writeKeepingMode replaces the file at path atomically, with the mode it
// had (a new file is private to the user).
func writeKeepingMode(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return private.WriteFile(path, data)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
