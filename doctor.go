package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
	"github.com/rolecall/rolecall/sso"
	"github.com/rolecall/rolecall/tray"
)

// Finding is one doctor check: what was looked at, whether it is fine, and
// if not, what is wrong and how to fix it.
type Finding struct {
	Check   string `json:"check"`
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// doctorEnv is everything doctor looks at; tests fill it from a table.
type doctorEnv struct {
	getenv     func(string) string
	configFile string // AWS config
	credsFile  string // AWS shared credentials
	port       int
	status     func() (control.Status, error)                  // the running process
	portInUse  func(port int) bool                             // something listens there
	keyring    func() error                                    // nil: usable
	trayHost   func() error                                    // nil: present
	sessions   func() ([]control.SessionInfo, error)           // SSO sessions, as the running rolecall holds them
	settings   error                                           // what loading config.toml said
	token      func() (string, error)                          // the running rolecall's bearer token
	grant      func(secret string) (control.GrantCheck, error) // what a grant's secret opens
	// answers asks uri for credentials with token as a client would; nil
	// when rolecall answered (any status), else why not (refused, TLS).
	answers    func(uri, token string) error
	now        time.Time
	expiringIn time.Duration // "close to expiry" threshold
}

// diagnose runs every check of SPEC §8.
func diagnose(e doctorEnv) []Finding {
	r := &doctorRun{doctorEnv: e}
	for _, check := range doctorChecks {
		check(r)
	}
	return r.out
}

// doctorChecks are the checks of SPEC §8, in the order they are reported.
var doctorChecks = []func(*doctorRun){
	checkEnvironment, checkFiles, checkRunning, checkPort, checkListener, checkGrant, checkKeyring, checkTrayHost, checkSessions,
}

// doctorRun is one run of the checks: what they look at, what the running
// rolecall said, and the findings so far.
type doctorRun struct {
	doctorEnv
	proc    control.Status // the running rolecall's status
	running bool
	out     []Finding
}

// add records a check's finding; no problem, no fix.
func (r *doctorRun) add(check string, problem, fix string) {
	if problem == "" {
		fix = ""
	}
	r.out = append(r.out, Finding{Check: check, OK: problem == "", Problem: problem, Fix: fix})
}

// checkEnvironment: variables that win over rolecall's endpoint.
func checkEnvironment(r *doctorRun) {
	for _, v := range []struct{ name, why, fix string }{
		{"AWS_PROFILE", "AWS_PROFILE is set (%q): SDKs use that profile instead of rolecall's endpoint", "unset AWS_PROFILE (`eval \"$(rolecall env)\"` does)"},
		{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID is set: environment keys win over rolecall's endpoint", "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN"},
		{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set: it wins over FULL_URI", "unset AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"},
	} {
		problem := ""
		if val := r.getenv(v.name); val != "" && (v.name != "AWS_PROFILE" || !rolecallProfile(r.configFile, val)) {
			problem = v.why
			if v.name == "AWS_PROFILE" {
				problem = fmt.Sprintf(v.why, val)
			}
		}
		r.add("environment: "+v.name, problem, v.fix)
	}
}

// checkFiles: the AWS files and the settings file.
func checkFiles(r *doctorRun) {
	r.add("default profile", defaultProfileProblem(r.configFile, r.credsFile), creds.Say(creds.DoctorDefaultFix))
	r.add("AWS config", awsConfigProblem(r.configFile), creds.Say(creds.DoctorAWSConfigFix))
	if r.settings != nil {
		r.add("settings", r.settings.Error(), creds.Say(creds.DoctorSettingsFix))
	} else {
		r.add("settings", "", "")
	}
}

// checkRunning asks the running rolecall for its status.
func checkRunning(r *doctorRun) {
	var err error
	r.proc, err = r.status()
	r.running = err == nil
	switch {
	case r.running:
		r.add("rolecall running", "", "")
	case errors.Is(err, control.ErrNotRunning):
		r.add("rolecall running", creds.Say(creds.DoctorNotRunning), "start it: `rolecall` (tray), `rolecall serve`, or `rolecall autostart on` for every login")
	default:
		r.add("rolecall running", err.Error(), controlFix())
	}
}

// checkPort: with rolecall not running, something else on its port.
func checkPort(r *doctorRun) {
	if !r.running && r.portInUse(r.port) {
		r.add("port "+strconv.Itoa(r.port), fmt.Sprintf("port %d is taken by another program", r.port),
			"stop that program, or set another port in "+settingsPathText()+" (port = N)")
	} else {
		r.add("port "+strconv.Itoa(r.port), "", "")
	}
}

// checkListener: the running rolecall's listener, and this shell's
// variables that reach it.
func checkListener(r *doctorRun) {
	if !r.running {
		return
	}
	problem := ""
	if r.proc.URL == "" {
		problem = "the running rolecall reports no listener"
	}
	r.add("listener", problem, "restart rolecall")
	problem = fullURIProblem(r.getenv, r.proc.URL)
	if problem == "" {
		problem = answerProblem(r.getenv, r.answers)
	}
	r.add("environment: AWS_CONTAINER_CREDENTIALS_FULL_URI", problem, creds.Say(creds.DoctorShellFix))
	r.add("environment: token", tokenProblem(r.getenv, r.token, r.grant), creds.Say(creds.DoctorShellFix))
}

// checkGrant: this shell's grant (its secret as the token, or its ID in
// the URI), if it has one, can still be used, for the slot its URL names.
func checkGrant(r *doctorRun) {
	if !r.running || r.grant == nil {
		return
	}
	secret, isID := shellGrant(r.getenv, r.token)
	if secret == "" {
		return
	}
	g, err := r.grant(secret)
	var api *control.APIError
	switch {
	case errors.As(err, &api) && api.Status == 404 && !isID:
		return // not a grant's: the token check tells of it
	case errors.As(err, &api) && api.Status == 404:
		r.add("environment: grant", api.Message, creds.Say(creds.DoctorGrantFix))
	case err != nil:
		return // the control channel's trouble is reported by checkRunning
	case g.Problem != "":
		r.add("environment: grant", creds.Say(creds.DoctorGrant, g.Grant.Name, g.Problem), creds.Say(creds.DoctorGrantFix))
	default:
		problem := ""
		if slot, ok := slotOf(r.getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")); ok && slot != g.Grant.Profile {
			problem = creds.Say(creds.DoctorGrant, g.Grant.Name, creds.Say(creds.GrantScope, g.Grant.Name, g.Grant.Profile, creds.SlotLabel(slot)))
		}
		r.add("environment: grant", problem, creds.Say(creds.DoctorGrantFix))
	}
}

// shellGrant is the grant secret this shell may hold: the credential ID
// of a /v2/credentials/ URI (isID), or a token that is not the user's.
func shellGrant(getenv func(string) string, current func() (string, error)) (secret string, isID bool) {
	for _, k := range []string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		if u, err := url.Parse(getenv(k)); err == nil {
			if id, ok := strings.CutPrefix(u.Path, "/v2/credentials/"); ok && id != "" {
				return id, true
			}
		}
	}
	tok := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	if want, err := current(); tok == "" || err != nil || tok == want {
		return "", false
	}
	return tok, false
}

// slotOf is the named slot a FULL_URI reads ("" for the default slot).
func slotOf(fullURI string) (string, bool) {
	u, err := url.Parse(fullURI)
	if fullURI == "" || err != nil {
		return "", false
	}
	if u.Path == "/" || u.Path == "" {
		return "", true
	}
	name, ok := strings.CutPrefix(u.EscapedPath(), "/slot/")
	if !ok {
		return "", false
	}
	n, err := url.PathUnescape(name)
	return n, err == nil
}

// answerProblem: this shell's FULL_URI, asked as its clients ask it (with
// its token), does not answer: refused, or HTTPS where clients speak HTTP
// (or a certificate they do not trust).
func answerProblem(getenv func(string) string, answers func(uri, token string) error) string {
	uri := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if uri == "" || answers == nil {
		return ""
	}
	tok := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	if file := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); file != "" && tok == "" {
		b, _ := os.ReadFile(file)
		tok = string(b)
	}
	if err := answers(uri, tok); err != nil {
		return creds.Say(creds.DoctorNoAnswer, uri, err)
	}
	return ""
}

func checkKeyring(r *doctorRun) {
	if err := r.keyring(); errors.Is(err, keyring.ErrLocked) || errors.Is(err, keyring.ErrTimeout) {
		r.add("keyring", creds.Say(creds.DoctorKeyringLocked, err), keyring.ErrorMessage(err))
	} else if err != nil {
		r.add("keyring", creds.Say(creds.DoctorNoKeyring), keyring.ErrorMessage(err))
	} else {
		r.add("keyring", "", "")
	}
}

func checkTrayHost(r *doctorRun) {
	if err := r.trayHost(); err != nil {
		r.add("tray host", err.Error(), "on GNOME install the AppIndicator extension; headless machines use `rolecall serve`")
	} else {
		r.add("tray host", "", "")
	}
}

// checkSessions: each SSO session signed in, and not about to end, as
// the running rolecall holds them (it may reach a keyring doctor cannot,
// or none at all: headless, its sessions live in its memory). Without a
// running rolecall nothing holds them: checkRunning says so.
func checkSessions(r *doctorRun) {
	if !r.running {
		return
	}
	sessions, err := r.sessions()
	if err != nil {
		r.add("SSO sessions", err.Error(), "fix the file named in the message")
	}
	for _, s := range sessions {
		name, login := "sso-session "+s.Key, "rolecall login --sso-session "+s.Key
		ends, _ := time.Parse(creds.ExpirationFormat, s.ExpiresAt)
		if s.Kind == sso.KindLogin { // `aws login`: ends 12 hours after its sign-in
			name, login = "aws login session "+s.Label, "rolecall login --profile "+s.Profile
			ends, _ = time.Parse(creds.ExpirationFormat, s.Ends)
		}
		switch {
		case s.LoggingIn && !s.SignedIn:
			r.add(name, "a login is waiting for its code to be approved", "approve it in the browser, or `"+login+"` again")
		case !s.SignedIn:
			r.add(name, "not signed in, or the session has expired", login)
		case (!s.Renewable || s.Kind == sso.KindLogin) && !ends.IsZero() && ends.Sub(r.now) < r.expiringIn:
			r.add(name, "the session ends at "+ends.Local().Format("15:04"), login+" (before then)")
		default:
			r.add(name, "", "")
		}
	}
}

// defaultProfileProblem finds a [default] profile with credentials of its
// own: SDK chains pick it before the container endpoint.
func defaultProfileProblem(configFile, credsFile string) string {
	for _, f := range []struct{ path, section string }{{credsFile, "default"}, {configFile, "default"}, {configFile, "profile default"}} {
		sec, err := sso.Section(f.path, f.section)
		if err != nil {
			continue
		}
		for _, k := range []string{"aws_access_key_id", "credential_process", "web_identity_token_file",
			"sso_session", "sso_account_id", "sso_start_url", "role_arn"} {
			if v, has := sec[k]; has && !(k == "credential_process" && callsRolecall(v)) {
				return creds.Say(creds.DoctorDefault, f.section, f.path, k)
			}
		}
	}
	return ""
}

// rolecallProfile reports whether profile name of the AWS config gets its
// credentials from `rolecall credential-process` and from nothing the SDKs
// would try first: then AWS_PROFILE naming it is fine.
func rolecallProfile(configFile, name string) bool {
	section := "profile " + name
	if name == "default" {
		section = "default"
	}
	sec, err := sso.Section(configFile, section)
	if err != nil || !callsRolecall(sec["credential_process"]) {
		return false
	}
	for _, k := range []string{"aws_access_key_id", "role_arn", "web_identity_token_file", "sso_session", "sso_start_url", "sso_account_id"} {
		if _, has := sec[k]; has {
			return false
		}
	}
	return true
}

// callsRolecall reports whether a credential_process command line runs
// `rolecall credential-process`.
func callsRolecall(cmd string) bool {
	f := strings.Fields(cmd)
	if len(f) < 2 {
		return false
	}
	bin := strings.TrimSuffix(strings.ToLower(filepath.Base(strings.Trim(f[0], `"'`))), ".exe")
	return (bin == "rolecall" || bin == "rolecall-cli") && slices.Contains(f[1:], "credential-process")
}

// awsConfigProblem: no AWS config, or one without an IAM Identity Center
// session (nothing rolecall could serve).
func awsConfigProblem(path string) string {
	cfg, err := sso.LoadAWSConfig(context.Background(), path)
	switch {
	case err != nil:
		return err.Error()
	case cfg.Missing:
		return creds.Say(creds.DoctorNoAWSConfig, path)
	case len(cfg.Sessions) == 0:
		return creds.Say(creds.DoctorNoSSOSession, path)
	}
	return ""
}

// fullURIProblem: this shell's FULL_URI points at another address than
// the running rolecall's (an old port, another host).
func fullURIProblem(getenv func(string) string, serving string) string {
	set := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if set == "" || serving == "" {
		return ""
	}
	a, errA := url.Parse(set)
	b, errB := url.Parse(serving)
	if errA != nil || errB != nil || a.Scheme != b.Scheme || a.Host != b.Host {
		return creds.Say(creds.DoctorFullURI, set, serving)
	}
	return ""
}

// tokenProblem: this shell's token, or its token file, is not the token
// in force (rotated since, or another machine's).
func tokenProblem(getenv func(string) string, current func() (string, error), grant func(string) (control.GrantCheck, error)) string {
	tok, file := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"), getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	if tok == "" && file == "" {
		return ""
	}
	want, err := current()
	if err != nil {
		return ""
	}
	if tok != "" && tok != want {
		if grant != nil {
			if _, err := grant(tok); err == nil {
				return "" // a grant's secret: checkGrant tells of it
			}
		}
		return creds.Say(creds.DoctorToken, "AWS_CONTAINER_AUTHORIZATION_TOKEN")
	}
	if file != "" {
		if b, err := os.ReadFile(file); err != nil || string(b) != want {
			return creds.Say(creds.DoctorToken, "the file in AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ("+file+")")
		}
	}
	return ""
}

// realDoctorEnv looks at this machine.
func realDoctorEnv(ctx context.Context) doctorEnv {
	st, stErr := settings.Load(mustPath(settings.Path()))
	credsFile := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if credsFile == "" {
		if home, err := os.UserHomeDir(); err == nil {
			credsFile = filepath.Join(home, ".aws", "credentials")
		}
	}
	kr := keyring.New("rolecall", nil)
	client := func() *control.Client {
		path, _ := control.SocketPath()
		return control.NewClient(path)
	}
	return doctorEnv{
		settings:   stErr,
		token:      func() (string, error) { return client().Token(ctx, false) },
		grant:      func(secret string) (control.GrantCheck, error) { return client().CheckGrant(ctx, secret) },
		getenv:     os.Getenv,
		configFile: sso.ConfigPath(),
		credsFile:  credsFile,
		port:       st.Port,
		status: func() (control.Status, error) {
			path, err := control.SocketPath()
			if err != nil {
				return control.Status{}, err
			}
			return control.NewClient(path).Status(ctx)
		},
		portInUse: func(port int) bool {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(st.Bind, strconv.Itoa(port)), time.Second)
			if err != nil {
				return false
			}
			c.Close()
			return true
		},
		keyring:    kr.Probe,
		trayHost:   tray.Available,
		sessions:   func() ([]control.SessionInfo, error) { return client().Sessions(ctx) },
		answers:    askEndpoint,
		now:        time.Now(),
		expiringIn: time.Hour,
	}
}

// askEndpoint asks uri for credentials with token, as the SDKs do (plain
// HTTP, or HTTPS with the system's trust store, 2 s).
func askEndpoint(uri, token string) error {
	req, err := http.NewRequest(http.MethodGet, uri, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", strings.TrimSpace(token))
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return uerr.Err
		}
		return err
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		// rolecall answers JSON, errors too; a TLS listener asked in
		// plain HTTP answers a 400 in text.
		return fmt.Errorf("the answer is no credential endpoint's (%s, %s): is it HTTPS?", resp.Status, cmp.Or(ct, "no content type"))
	}
	return nil
}

func mustPath(p string, err error) string {
	if err != nil {
		return ""
	}
	return p
}

func (c *cli) doctor(args []string) int {
	fs := c.flags("doctor", "doctor [--json]", "rolecall doctor")
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	findings := diagnose(realDoctorEnv(c.ctx))
	bad := 0
	for _, f := range findings {
		if !f.OK {
			bad++
		}
	}
	if *asJSON {
		c.printJSON(struct {
			OK       bool      `json:"ok"`
			Findings []Finding `json:"findings"`
		}{bad == 0, findings})
	} else {
		for _, f := range findings {
			if f.OK {
				fmt.Fprintf(c.stdout, "ok    %s\n", f.Check)
				continue
			}
			fmt.Fprintf(c.stdout, "FIX   %s: %s\n      fix: %s\n", f.Check, f.Problem, f.Fix)
		}
	}
	if bad > 0 {
		return exitFail
	}
	return exitOK
}

// controlFix says where to look when the control channel fails, in this
// system's own terms.
func controlFix() string {
	path, err := control.SocketPath()
	if err != nil {
		return err.Error()
	}
	if runtime.GOOS == "windows" {
		return "another program may hold the named pipe " + path + ": end it, or set ROLECALL_SOCKET"
	}
	return "check the control socket's directory (" + filepath.Dir(path) + ")"
}

// settingsPathText is the settings file's place on this system.
func settingsPathText() string {
	if p, err := settings.Path(); err == nil {
		return p
	}
	return "the rolecall settings file"
}
