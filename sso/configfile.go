package sso

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// rawConfig is the sections of an AWS config file rolecall looks at, with
// only the keys it reads, as the SDK's INI reader splits them: comment
// lines start with # or ;, a property's comment starts with " #" or " ;",
// keys are case-insensitive, indented lines belong to a nested property.
type rawConfig struct {
	profiles map[string]map[string]string
	// plainDefault is [default]; [profile default] wins over it, as in
	// the SDK.
	plainDefault map[string]string
	sessions     map[string]map[string]string
	order        []string // session names in file order
	// spans are where each section's text is in the file, by header
	// ("profile NAME", "default", "sso-session NAME"); a repeated header
	// has several.
	spans map[spanKey][]span
}

// spanKey names a section: kind 'p' profile, 'd' [default], 's'
// sso-session.
type spanKey struct {
	kind byte
	name string
}

// span is a byte range of the file.
type span struct{ start, end int }

func (rc *rawConfig) closeSpan(k spanKey, start, end int) {
	if k.kind != 0 {
		rc.spans[k] = append(rc.spans[k], span{start, end})
	}
}

// rawKeys are the keys read; others are not kept (a file generated with
// thousands of profiles stays small in memory).
var rawKeys = map[string]bool{
	"sso_session": true, "sso_start_url": true, "sso_region": true, "sso_account_id": true,
	"sso_role_name": true, "sso_registration_scopes": true, "region": true, "role_arn": true,
	"source_profile": true, "role_session_name": true, "duration_seconds": true,
	"external_id": true, "credential_process": true, "credential_source": true,
	"aws_access_key_id": true, "aws_secret_access_key": true, "login_session": true,
	"web_identity_token_file": true,
}

// Section returns the keys rolecall reads (those above) of one section of
// the AWS config or credentials file at path, split as everywhere else in
// rolecall (parseSections): header is "default" for [default] or "profile
// NAME"; nil when the file has no such section. Repeated headers add up,
// as in the SDK.
func Section(path, header string) (map[string]string, error) {
	text, err := readText(path)
	if err != nil {
		return nil, err
	}
	rc := parseSections(text)
	if header == "default" {
		return rc.plainDefault, nil
	}
	name, ok := strings.CutPrefix(header, "profile ")
	if !ok {
		return nil, fmt.Errorf("section [%s]: want [default] or [profile NAME]", header)
	}
	if _, written := rc.spans[spanKey{'p', name}]; !written {
		return nil, nil // [default] stands in for [profile default]: not this header
	}
	return rc.profiles[name], nil
}

// parseSections reads data in one pass. The values kept are substrings of
// data: one allocation for the file, none per line.
func parseSections(data string) *rawConfig {
	rc := &rawConfig{profiles: map[string]map[string]string{}, sessions: map[string]map[string]string{}, spans: map[spanKey][]span{}}
	var cur map[string]string // nil: a section rolecall does not read
	var open spanKey          // the section being read
	start, pos := 0, 0
	rest := data
	for len(rest) > 0 {
		line, after, _ := strings.Cut(rest, "\n")
		lineStart := pos
		pos += len(rest) - len(after)
		rest = after
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		if len(trimmed) != len(line) {
			continue // nested property or continuation
		}
		if line[0] == '[' {
			rc.closeSpan(open, start, lineStart)
			cur, open = rc.section(line)
			start = lineStart
			continue
		}
		if cur == nil {
			continue
		}
		k, v, ok := splitProperty(cutPropertyComment(line))
		if k = lowerKey(k); ok && rawKeys[k] {
			cur[k] = v
		}
	}
	rc.closeSpan(open, start, len(data))
	if rc.plainDefault != nil && rc.profiles["default"] == nil {
		rc.profiles["default"] = rc.plainDefault
	}
	return rc
}

// lowerKey is strings.ToLower without an allocation for keys that are
// lower case already (nearly all).
func lowerKey(k string) string {
	for i := range len(k) {
		if 'A' <= k[i] && k[i] <= 'Z' {
			return strings.ToLower(k)
		}
	}
	return k
}

// section starts the section of header line: its keys (nil for one not
// read) and its span's name.
func (rc *rawConfig) section(line string) (map[string]string, spanKey) {
	h, _, _ := strings.Cut(line, "#")
	h, _, _ = strings.Cut(h, ";")
	h = strings.TrimSpace(h)
	if len(h) < 2 || h[len(h)-1] != ']' {
		return nil, spanKey{}
	}
	h = strings.TrimSpace(h[1 : len(h)-1])
	typ, name, found := h, "", false
	if i := strings.IndexAny(h, " \t"); i >= 0 {
		typ, name, found = h[:i], strings.TrimLeft(h[i:], " \t"), true
	}
	switch {
	case !found && typ == "default":
		if rc.plainDefault == nil {
			rc.plainDefault = map[string]string{}
		}
		return rc.plainDefault, spanKey{'d', "default"}
	case found && typ == "profile" && name != "":
		return sectionOf(rc.profiles, name), spanKey{'p', name}
	case found && typ == "sso-session" && name != "":
		if rc.sessions[name] == nil {
			rc.order = append(rc.order, name)
		}
		return sectionOf(rc.sessions, name), spanKey{'s', name}
	}
	return nil, spanKey{}
}

// sectionOf returns section name of m, made when new; a repeated header
// adds to the same section.
func sectionOf(m map[string]map[string]string, name string) map[string]string {
	if m[name] == nil {
		m[name] = map[string]string{}
	}
	return m[name]
}

func cutPropertyComment(s string) string {
	for _, c := range []string{" #", " ;", "\t#", "\t;"} {
		s, _, _ = strings.Cut(s, c)
	}
	return strings.TrimRight(s, " \t")
}

// splitProperty splits "key = value" (or the legacy "key: value") and
// unquotes the value.
func splitProperty(s string) (string, string, bool) {
	sep := "="
	if eq, colon := strings.Index(s, "="), strings.Index(s, ":"); eq == -1 || colon != -1 && colon < eq {
		sep = ":"
	}
	k, v, ok := strings.Cut(s, sep)
	if !ok {
		return "", "", false
	}
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		v = v[1 : len(v)-1]
	}
	return strings.TrimSpace(k), v, true
}

// classify fills c from the raw sections: sessions, then every profile as
// servable or skipped with the reason.
func (c *AWSConfig) classify(rc *rawConfig) error {
	for _, key := range rc.order {
		sec := rc.sessions[key]
		s := &Session{Key: key, StartURL: sec["sso_start_url"], Region: sec["sso_region"], Scopes: splitScopes(sec["sso_registration_scopes"])}
		if s.StartURL == "" || s.Region == "" {
			return fmt.Errorf("%s: [sso-session %s] needs sso_start_url and sso_region", c.Path, key)
		}
		c.Sessions[key] = s
	}
	memo := make(map[string]rawResult, len(rc.profiles))
	c.Profiles = make(map[string]*Profile, len(rc.profiles))
	for name := range rc.profiles {
		r := c.classifyProfile(rc, name, memo, 0)
		if r.p == nil {
			c.Skipped[name] = r.why
			continue
		}
		c.Profiles[name] = r.p
	}
	return nil
}

type rawResult struct {
	p   *Profile
	why string
}

func (c *AWSConfig) classifyProfile(rc *rawConfig, name string, memo map[string]rawResult, depth int) rawResult {
	if r, ok := memo[name]; ok {
		return r
	}
	if depth > maxChain {
		return rawResult{why: "role chain longer than " + strconv.Itoa(maxChain) + " or a cycle"}
	}
	sec, ok := rc.profiles[name]
	if !ok {
		return rawResult{why: "no such profile"}
	}
	r := c.classifyKeys(rc, name, sec, memo, depth)
	memo[name] = r
	return r
}

func (c *AWSConfig) classifyKeys(rc *rawConfig, name string, sec map[string]string, memo map[string]rawResult, depth int) rawResult {
	p := &Profile{Name: name, Region: sec["region"]}
	switch {
	case sec["role_arn"] != "":
		srcName := sec["source_profile"]
		if srcName == "" {
			return rawResult{why: "role_arn without source_profile (credential_source is not supported)"}
		}
		src := c.classifyProfile(rc, srcName, memo, depth+1)
		if src.p == nil {
			return rawResult{why: "source profile " + srcName + ": " + src.why}
		}
		p.Session, p.Source = src.p.Session, srcName
		p.RoleARN, p.RoleSessionName, p.ExternalID = sec["role_arn"], sec["role_session_name"], sec["external_id"]
		if n, err := strconv.Atoi(sec["duration_seconds"]); err == nil {
			p.Duration = time.Duration(n) * time.Second
		}
		return rawResult{p: p}
	case sec["sso_account_id"] != "" && sec["sso_role_name"] != "":
		p.AccountID, p.RoleName = sec["sso_account_id"], sec["sso_role_name"]
		if key := sec["sso_session"]; key != "" {
			if _, ok := c.Sessions[key]; !ok {
				return rawResult{why: creds.Say(creds.MissingSessionSection, key, c.Path, key)}
			}
			p.Session = key
			return rawResult{p: p}
		}
		url, region := sec["sso_start_url"], sec["sso_region"]
		if url == "" || region == "" {
			return rawResult{why: "sso_account_id without sso_session or sso_start_url/sso_region"}
		}
		if _, ok := c.Sessions[url]; !ok {
			c.Sessions[url] = &Session{Key: url, StartURL: url, Region: region, Legacy: true}
		}
		p.Session = url
		return rawResult{p: p}
	case sec["login_session"] != "":
		arn := strings.TrimSpace(sec["login_session"])
		if p.Region == "" {
			return rawResult{why: skipLoginNoRegion}
		}
		p.Session, p.LoginSession, p.AccountID = arn, arn, arnAccount(arn)
		c.addLoginSession(arn, name, p.Region)
		return rawResult{p: p}
	case sec["credential_process"] != "":
		return rawResult{why: skipProcess}
	case sec["aws_access_key_id"] != "" && sec["aws_secret_access_key"] != "":
		return rawResult{why: skipStatic}
	}
	return rawResult{why: skipNoSSO}
}
