package creds

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ExpirationFormat is how an expiration travels on the wire: UTC, seconds,
// a literal Z (the form every AWS SDK parses).
const ExpirationFormat = "2006-01-02T15:04:05Z"

// Advice is the one line a person reads for an error of the manager about
// slot: what went wrong and what to do next. The credential listener and
// the control channel both answer with it.
func Advice(slot string, err error) string {
	var p *Problem
	if errors.As(err, &p) && selfAdvising[p.Text] {
		return p.msg
	}
	switch {
	case errors.Is(err, ErrNothingLoaded):
		return Say(NothingLoaded)
	case errors.Is(err, ErrUnknownName):
		return Say(UnknownName, slot)
	case errors.Is(err, ErrUnloaded):
		return Say(SlotUnloaded, slot, slot)
	case errors.Is(err, ErrNoSuchSlot):
		return Say(NoSuchSlot, slot, slot)
	case errors.Is(err, ErrSuperseded):
		return Say(Superseded, SlotLabel(slot))
	case errors.Is(err, ErrPermanent):
		return Say(Permanent, SlotLabel(slot), err.Error())
	case errors.Is(err, ErrLoginRequired):
		return Say(SessionEnded)
	default:
		return Say(RefreshFailed, SlotLabel(slot), err.Error())
	}
}

// SlotLabel names a slot in a sentence.
func SlotLabel(name string) string {
	if name == DefaultSlot {
		return "the default slot"
	}
	return "slot " + strconv.Quote(name)
}

// Text names one message a person reads, in the terminal, the tray, a
// notification or an HTTP answer. Every such message is in the texts table
// below, with what to do next, so that they are found, reviewed and tested
// in one place.
type Text int

// The texts; the comment on each names its arguments.
const (
	NothingLoaded           Text = iota // -
	NoSuchSlot                          // slot, slot
	UnknownName                         // name
	SessionEnded                        // -
	RefreshFailed                       // slot label, error
	Permanent                           // slot label, error
	MissingToken                        // -
	WrongToken                          // -
	NotRunning                          // -
	AlreadyRunning                      // pid
	InstanceLocked                      // pid, lock file
	PortTaken                           // port, settings file
	PortTakenFlag                       // port
	TLSNotSaved                         // -
	TokenRotated                        // -
	NoAWSConfig                         // path
	NoSSOSession                        // path
	NoSuchSession                       // name, path, name
	ManySessions                        // path, count, names
	NoSuchProfile                       // name
	NoSuchRole                          // role, account
	DidYouMean                          // name, suggestion
	NotSignedIn                         // profile, sessions, session
	NotSignedInRole                     // role, account, sessions, session
	AmbiguousRole                       // name, choices
	CannotServe                         // profile, why
	MissingSessionSection               // session, path, session
	LoginFor                            // what failed, session
	NotLoaded                           // slot, loaded slots
	NotLoadedNone                       // slot
	DefaultNotLoaded                    // -
	Unreachable                         // host
	LoginWaiting                        // -
	CodeExpired                         // code, session
	LoginDenied                         // session
	RegistrationGone                    // session
	ClipboardWayland                    // -
	ClipboardX11                        // -
	ClipboardNone                       // -
	ClipboardOther                      // error
	EnvIMDSProfile                      // -
	EnvNoIMDS                           // -
	DoctorDefault                       // section, file, key
	DoctorDefaultFix                    // -
	DoctorSettingsFix                   // -
	DoctorFullURI                       // set, serving
	DoctorToken                         // which
	DoctorShellFix                      // -
	DoctorNoKeyring                     // -
	DoctorNotRunning                    // -
	DoctorNoAnswer                      // url, error
	DoctorAWSConfigFix                  // -
	DoctorNoAWSConfig                   // path
	DoctorNoSSOSession                  // path
	WhyNetwork                          // - (the Why* texts: a failure in a few words, for the tray)
	WhyRefused                          // -
	WhyPermission                       // -
	WhyThrottled                        // -
	WhyNotFound                         // -
	WhyUnexpected                       // -
	NoteCode                            // session
	NoteCodeBody                        // code
	NoteEnding                          // session, time left
	NoteEndingBody                      // -
	NoteEndingRenewableBody             // -
	NoteEndingLoginBody                 // -
	NoteEnded                           // session
	NoteSignInNeeded                    // profiles
	NoteEndedBody                       // profiles
	NoteExpired                         // profiles
	NoteExpiredLogin                    // -
	NoteExpiredRetry                    // why
	NoteFailing                         // profiles, why
	NoteFailingBody                     // -
	DoctorKeyringLocked                 // error
	WhyNotAnswering                     // -
	NextNetwork                         // - (the Next* texts: what to do after a Why*)
	NextNotAnswering                    // -
	NextRefused                         // -
	NextPermission                      // -
	NextThrottled                       // -
	NextNotFound                        // -
	NextUnexpected                      // -
	NoteNotAnswering                    // session
	NoteNotAnsweringBody                // -
	NoteAnswersAgain                    // session
	NoteAnswersAgainBody                // -
	NoteCopiedEnv                       // -
	NoteCopiedEnvBody                   // URL
	NoteCopiedIDE                       // -
	NoteCopiedIDEBody                   // URL
	NoteFailBody                        // why, what next
	FailLoad                            // profile
	FailLoadSlot                        // profile
	FailUnload                          // slot
	FailPin                             // slot
	FailLogin                           // session
	FailLogout                          // session
	FailCancelLogin                     // session
	FailCopy                            // -
	FailCopyCode                        // -
	FailBrowser                         // -
	FailFavorite                        // profile
	FailFindRole                        // -
	FailConsole                         // -
	FailRefresh                         // -
	FailAutostart                       // -
	FailOther                           // -
	MenuNoRole                          // -
	MenuStatus                          // who, what
	MenuLogInAgain                      // -
	MenuRefreshFailed                   // -
	MenuWaitingCreds                    // -
	MenuRefreshFailing                  // time left
	MenuFavAdd                          // -
	MenuFavRemove                       // -
	MenuOwnSlot                         // -
	MenuConsole                         // -
	MenuLogIn                           // session
	MenuLogInEnded                      // session, time
	MenuLogOut                          // session
	MenuNoSessions                      // -
	MenuLoggingIn                       // session
	MenuCancelLogin                     // -
	MenuCopyCode                        // code
	MenuOpenBrowser                     // -
	MenuSignedIn                        // session
	MenuSignedInUntil                   // session, time
	MenuNotAnswering                    // session
	MenuWaitingSignIn                   // profile, session
	MenuFindRole                        // -
	MenuNoRoles                         // -
	MenuNamedSlots                      // -
	MenuCopyEnv                         // -
	MenuCopyIDE                         // -
	MenuRefresh                         // -
	MenuAutostart                       // -
	MenuQuit                            // -
	MenuRecent                          // -
	MenuAllAccounts                     // count
	MenuSessionAccounts                 // session, count
	MenuProfiles                        // count
	MenuMoreFavorites                   // count
	MenuUnload                          // -
	MenuPin                             // -
	MenuUnpin                           // -
	MenuPinned                          // -
	MenuRange                           // first, last, count
	MenuOfSession                       // label, session
	// Grants (grant.go).
	GrantWasRevoked      // name, when, name, slot
	GrantHasExpired      // name, when, name, slot
	GrantUnknown         // -
	GrantScope           // name, slot, what was asked
	GrantRoleChanged     // name, slot, slot
	ContainerRoute       // -
	GrantExists          // name, name
	GrantNoSuchName      // name
	GrantBadName         // name
	GrantBadTTL          // ttl
	DoctorGrant          // name, what happened
	DoctorGrantFix       // -
	HostSetupDone        // interfaces, port
	HostSetupUndone      // -
	HostSetupNeedsRoot   // verb
	HostSetupNoIface     // -
	HostSetupBadIface    // name
	SlotUnloaded         // slot, slot
	Superseded           // slot label
	LoginCacheMissing    // file, profile, profile
	LoginCacheBroken     // file, why, profile, profile
	LoginSessionEnded    // session label, profile, profile
	LoginPasswordChanged // session label, profile, profile
	LoginNoPermission    // principal, profile
	SigninUnreachable    // host
	LoginCodeInvalid     // profile
	LoginCodeExpired     // profile
	LoginRefusedBrowser  // error code, profile
	LoginNotSession      // profile, path
	// rolecall ssh (remote/).
	SSHMissing         // -
	SSHUnsupported     // -
	SSHFailed          // destination, ssh's exit status
	SSHForwardRefused  // destination
	SSHPortTaken       // port, destination
	SSHOtherRole       // destination, its role, the role asked for
	SSHRolecallStopped // destination
	MenuNewSession     // -
)

// selfAdvising texts say by themselves what went wrong for a slot and
// what to do: Advice answers with them as they are.
var selfAdvising = map[Text]bool{
	LoginCacheMissing: true, LoginCacheBroken: true, LoginSessionEnded: true,
	LoginPasswordChanged: true, LoginNoPermission: true,
}

// texts is the one mapping from a Text to its words (fmt verbs for its
// arguments).
var texts = map[Text]string{
	NothingLoaded: "no role loaded in the default slot: pick one in the rolecall tray or run `rolecall load --profile NAME`",
	NoSuchSlot:    "no slot named %q: run `rolecall load --profile %s --slot`",
	UnknownName:   "no role named %q: `rolecall roles` lists the names a slot can have (it is loaded on its first request)",
	SessionEnded:  "the SSO session has ended: run `rolecall login` (or use Log in in the tray), then retry",
	RefreshFailed: "credentials for %s are expired and could not be refreshed: %s",
	Permanent: "credentials for %s cannot be had: %s: fix the profile in the AWS config, " +
		"or load another role (`rolecall roles` lists them)",
	MissingToken: "missing Authorization header: this client reads neither AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE nor _TOKEN " +
		"(many read only _TOKEN, such as Debian's awscli and boto3): run `eval \"$(rolecall env)\"`, which sets it",
	WrongToken:     "wrong authorization token: it may have been rotated; run `eval \"$(rolecall env)\"` again, or read it from the token file or `rolecall token`",
	NotRunning:     "rolecall is not running: start it with `rolecall` (tray) or `rolecall serve`",
	AlreadyRunning: "rolecall is already running (pid %d): `rolecall list` talks to it, `rolecall stop` stops it",
	InstanceLocked: "rolecall is already running (pid %d holds %s): `rolecall stop` stops it " +
		"(from a shell with its XDG_RUNTIME_DIR), or quit it from its tray menu",
	PortTaken: "port %d is taken by another program (or another rolecall): set `port = N` with a free port in %s, " +
		"then use the new URL in your IDE settings",
	TokenRotated: "token rotated: the token file has the new one; shells and IDE settings holding AWS_CONTAINER_AUTHORIZATION_TOKEN " +
		"get 403 until they run `eval \"$(rolecall env)\"` (or copy the settings) again",
	TLSNotSaved: "not saved: there is no OS keyring, so the pair is served only until rolecall stops (it is saved if a keyring " +
		"appears before then): start rolecall in a desktop session with a keyring (or KeePassXC's Secret Service), then `rolecall tls save` again",
	PortTakenFlag: "port %d, given with --port, is taken by another program (or another rolecall): run again with another --port N, " +
		"then use the new URL in your IDE settings",
	NoAWSConfig: "no AWS config at %s: create it with an [sso-session NAME] section " +
		"(sso_start_url, sso_region) and a profile using it; the README's Quick start has an example to paste into %[1]s",
	NoSSOSession:  "no IAM Identity Center session in %s: add an [sso-session NAME] section with sso_start_url and sso_region (see the README's Quick start)",
	NoSuchSession: "no sso-session %q in %s: add an [sso-session %s] section with sso_start_url and sso_region",
	ManySessions:  "%s has %d sso-sessions: choose one with --sso-session (%s)",
	NoSuchProfile: "no profile named %s: `rolecall roles` lists the names you can load",
	NoSuchRole:    "no role %s in account %s: `rolecall roles` lists the roles you can load",
	DidYouMean:    "no profile named %s; did you mean %s?",
	NotSignedIn: "no profile named %s; the roles of sso-session %s are not known until you sign in: " +
		"run `rolecall login --sso-session %s`, then retry",
	NotSignedInRole: "no role %s in account %s; the roles of sso-session %s are not known until you sign in: " +
		"run `rolecall login --sso-session %s`, then retry",
	AmbiguousRole: "%s names more than one role: load one of %s",
	CannotServe:   "profile %s cannot be served: %s",
	MissingSessionSection: "it uses sso_session %s, but %s has no [sso-session %s] section: " +
		"add one with sso_start_url and sso_region, or correct the name",
	LoginFor:         "%s: run `rolecall login --sso-session %s`, then retry",
	NotLoaded:        "slot %q is not loaded; loaded: %s",
	NotLoadedNone:    "slot %q is not loaded; no named slot is loaded",
	DefaultNotLoaded: "the default slot is empty already; `rolecall list` shows what is loaded",
	Unreachable:      "cannot reach Identity Center at %s (network, proxy, or sso_region?)",
	CodeExpired:      "the code %s expired before it was approved: run `rolecall login --sso-session %s` again",
	LoginDenied:      "the login was denied in the browser: run `rolecall login --sso-session %s` to try again",
	RegistrationGone: "IAM Identity Center no longer knows rolecall's client registration: run `rolecall login --sso-session %s` again",
	LoginWaiting:     "waiting for IAM Identity Center to answer (rolecall gives up after 15 s)...",
	ClipboardWayland: "nothing to copy with: install wl-clipboard (sudo apt-get install wl-clipboard), or copy from `rolecall env`",
	ClipboardX11:     "nothing to copy with: install xclip (sudo apt-get install xclip), or copy from `rolecall env`",
	ClipboardNone:    "no desktop clipboard in this session (neither WAYLAND_DISPLAY nor DISPLAY is set): copy from `rolecall env` instead",
	ClipboardOther:   "could not copy to the clipboard (%s): copy from `rolecall env` instead",
	EnvIMDSProfile:   "--imds serves the default slot only: load the role into it, or use the container endpoint for a named slot",
	EnvNoIMDS: "this rolecall serves no EC2 metadata endpoint (the tray's default): set `imds = true` in the settings and restart it " +
		"(or run `rolecall serve --imds`), or leave out --imds: the container endpoint serves every SDK",
	DoctorDefault: "[%s] in %s has %s: SDKs use it before rolecall's endpoint",
	DoctorDefaultFix: "rename [default] (keep its settings under another profile name): " +
		"SDKs read it before the container endpoint, whether it has keys, credential_process, web identity, SSO settings or role_arn",
	DoctorSettingsFix:  "fix the line named (or move the file away): rolecall does not start while config.toml is broken",
	DoctorFullURI:      "this shell's AWS_CONTAINER_CREDENTIALS_FULL_URI is %s, but rolecall serves %s",
	DoctorToken:        "%s is not the token in force (rotated since, or from another rolecall): clients get 403",
	DoctorShellFix:     "run `eval \"$(rolecall env)\"` in this shell (and copy the IDE settings again from the tray)",
	DoctorNoKeyring:    "no usable OS keyring: the SSO session is lost at every restart",
	DoctorNotRunning:   "rolecall is not running: nothing holds the SSO sessions or serves credentials, so neither can be checked",
	DoctorNoAnswer:     "this shell's AWS_CONTAINER_CREDENTIALS_FULL_URI (%s) does not answer: %v",
	DoctorNoAWSConfig:  "no AWS config at %s: rolecall has no profile to serve and no Identity Center to sign in to",
	DoctorNoSSOSession: "%s has no [sso-session NAME] section: rolecall has no Identity Center to sign in to",
	WhyNetwork:         "network unreachable",
	WhyRefused:         "Identity Center refused the session",
	WhyPermission:      "permission removed",
	WhyThrottled:       "Identity Center is busy (throttled)",
	WhyNotFound:        "role or account not found",
	WhyUnexpected:      "unexpected error (details in the log)",
	NoteCode:           "Log in to AWS session %s",
	NoteCodeBody:       "Approve the request in your browser; check that it shows the code %s.",
	NoteEnding:         "AWS session %s ends in %s",
	NoteEndingBody:     "Log in again to keep your roles.",
	NoteEndingRenewableBody: "Identity Center ends sessions a fixed time after sign-in, even while rolecall renews them: " +
		"log in again to keep your roles.",
	NoteEndingLoginBody: "`aws login` sessions end 12 hours after sign-in; start a new session (sign in again) to keep your roles.",
	NoteEnded:           "AWS session %s ended",
	NoteSignInNeeded:    "Sign-in needed for %s",
	NoteEndedBody:       "Log in again to keep %s served.",
	NoteExpired:         "Credentials for %s expired",
	NoteExpiredLogin:    "Nothing valid is served for them: log in again.",
	NoteExpiredRetry:    "Nothing valid is served for them until a refresh works (%s).",
	NoteFailing:         "Refreshing %s failed: %s",
	NoteFailingBody:     "rolecall retries by itself; the current credentials stay served until they expire.",
	DoctorAWSConfigFix: "describe your IAM Identity Center as in the README's Quick start: " +
		"an [sso-session NAME] with sso_start_url and sso_region, and a profile that uses it",
	DoctorKeyringLocked: "the OS keyring does not answer (%v): until it is unlocked rolecall cannot read the SSO session; it keeps asking",
	WhyNotAnswering:     "Identity Center is not answering",
	NextNetwork:         "check the network connection; rolecall keeps trying",
	NextNotAnswering:    "rolecall keeps trying and says when it works again",
	NextRefused:         "log in again",
	NextPermission:      "ask your AWS administrator for access, or pick another role",
	NextThrottled:       "rolecall tries again in a moment",
	NextNotFound:        "pick another role (Find a role… lists them)",
	NextUnexpected:      "try again; the log has the details",
	NoteNotAnswering:    "Identity Center (%s) is not answering",
	NoteNotAnsweringBody: "rolecall keeps trying and says when it works again; " +
		"credentials already served stay valid until they expire. Logging in again would not help.",
	NoteAnswersAgain:     "Identity Center (%s) answers again",
	NoteAnswersAgainBody: "Credentials are refreshed again.",
	NoteCopiedEnv:        "Terminal exports copied",
	NoteCopiedEnvBody:    "Paste them into a terminal: the commands run in it then use rolecall (%s).",
	NoteCopiedIDE:        "IDE settings copied",
	NoteCopiedIDEBody:    "Paste them into your IDE's run configuration, as its environment variables (%s).",
	NoteFailBody:         "%s: %s.",
	FailLoad:             "Could not switch to %s",
	FailLoadSlot:         "Could not serve %s in its own slot",
	FailUnload:           "Could not unload %s",
	FailPin:              "Could not change the pin of %s",
	FailLogin:            "Could not log in to %s",
	FailLogout:           "Could not log out of %s",
	FailCancelLogin:      "Could not cancel the login to %s",
	FailCopy:             "Could not copy",
	FailCopyCode:         "Could not copy the code",
	FailBrowser:          "Could not open the browser",
	FailFavorite:         "Could not change the favourite %s",
	FailFindRole:         "Could not open the role picker",
	FailConsole:          "Could not open the AWS console",
	FailRefresh:          "Could not refresh",
	FailAutostart:        "Could not change Start at login",
	FailOther:            "That did not work",
	MenuNoRole:           "No role loaded",
	MenuStatus:           "▶ %s — %s",
	MenuLogInAgain:       "log in again",
	MenuRefreshFailed:    "refresh failed",
	MenuWaitingCreds:     "waiting for credentials",
	MenuRefreshFailing:   "%s, refresh failing",
	MenuFavAdd:           "☆ Add to favourites",
	MenuFavRemove:        "★ Remove from favourites",
	MenuOwnSlot:          "Serve it in its own slot too",
	MenuConsole:          "Open AWS console",
	MenuLogIn:            "Log in to %s",
	MenuLogInEnded:       "Log in to %s (its session ended at %s)",
	MenuLogOut:           "Log out of %s",
	MenuNoSessions:       "No sso-session in ~/.aws/config",
	MenuLoggingIn:        "Logging in to %s in the browser",
	MenuCancelLogin:      "Cancel login",
	MenuCopyCode:         "Copy code %s",
	MenuOpenBrowser:      "Open browser again",
	MenuSignedIn:         "Signed in to %s",
	MenuSignedInUntil:    "Signed in to %s until %s",
	MenuNotAnswering:     "%s: Identity Center is not answering; rolecall keeps trying",
	MenuWaitingSignIn:    "%s: waiting for sign-in to %s",
	MenuFindRole:         "Find a role…",
	MenuNoRoles:          "No roles yet: log in first",
	MenuNamedSlots:       "Named slots",
	MenuCopyEnv:          "Copy terminal exports",
	MenuCopyIDE:          "Copy IDE settings",
	MenuRefresh:          "Refresh now",
	MenuAutostart:        "Start at login",
	MenuQuit:             "Quit",
	MenuRecent:           "Recent",
	MenuAllAccounts:      "All accounts (%d)",
	MenuSessionAccounts:  "Accounts of %s (%d)",
	MenuProfiles:         "Profiles (%d)",
	MenuMoreFavorites:    "More favourites (%d)",
	MenuUnload:           "Unload",
	MenuPin:              "Pin (keep across restarts)",
	MenuUnpin:            "Unpin",
	MenuPinned:           "pinned",
	MenuRange:            "%s – %s (%d)",
	MenuOfSession:        "%s (%s)",
	GrantWasRevoked: "grant %q was revoked at %s: it reads nothing any more; ask the user of rolecall for a new one " +
		"(`rolecall grant add %s --profile %s`) and use the lines it prints",
	GrantHasExpired: "grant %q expired at %s: ask the user of rolecall for a new one " +
		"(`rolecall grant add %s --profile %s --ttl DURATION`) and use the lines it prints",
	GrantUnknown: "no grant has this secret or credential ID: it is mistyped or its grant was removed; " +
		"`rolecall grant list` shows the grants, `rolecall grant add NAME --profile P` makes one",
	GrantRoleChanged: "grant %q was made for the role that %q named then, and the AWS config now defines that name as another role: " +
		"it reads nothing; if the new role is meant, make a new grant (`rolecall grant add NAME --profile %s`)",
	GrantScope: "grant %q reads only the role of slot %q (GET /slot/<that name>, or /v2/credentials/<its ID>), not %s: " +
		"make a grant for that role with `rolecall grant add NAME --profile P`, or use the user's own token (`rolecall env`)",
	ContainerRoute: "connections from containers reach only GET /v2/credentials/<ID> of a grant: " +
		"run `rolecall grant add NAME --profile P --container` on the host and set the AWS_CONTAINER_CREDENTIALS_RELATIVE_URI it prints",
	GrantExists:     "a grant named %q is active: revoke it first (`rolecall grant revoke %s`) or choose another name",
	GrantNoSuchName: "no active grant named %q: `rolecall grant list` shows the grants",
	GrantBadName:    "grant name %q: use 1 to 64 letters, digits, '.', '_', '-' or '@' (it names the consumer in the audit log)",
	GrantBadTTL:     "--ttl %s: give a duration of at least one second such as 30m, 8h or 720h (or leave it out: until revoked)",
	DoctorGrant:     "this shell's grant %s: %s",
	DoctorGrantFix:  "get a new grant with `rolecall grant add NAME --profile P` and use the lines it prints in this shell",
	HostSetupDone: "containers on %s now reach rolecall's port %d at http://169.254.170.2 (until the next reboot, " +
		"or `sudo rolecall containers off`): give each one a grant with `rolecall grant add NAME --profile P --container`",
	HostSetupUndone:    "the container set-up is removed: no rule of rolecall's is left, and route_localnet is back as it was",
	HostSetupNeedsRoot: "`rolecall containers %s` changes the host's network (iptables rules, sysctls) and needs root: run it with sudo",
	HostSetupNoIface: "no interface to serve: docker0 does not exist; name the bridges or veths your containers use " +
		"with --interface NAME (`ip link` lists them)",
	HostSetupBadIface: "no network interface named %q: `ip link` lists them",
	SlotUnloaded: "slot %q was unloaded by you: rolecall does not load it on demand until you load it again " +
		"(`rolecall load --profile %s --slot`)",
	Superseded:        "not loaded: a later request for %s (another load or an unload) was asked after this one and wins",
	LoginCacheMissing: "no `aws login` session in %s: run `rolecall login --profile %s` (or `aws login --profile %s`), then retry",
	LoginCacheBroken: "the `aws login` cache %s cannot be used (%s): sign in again with `rolecall login --profile %s` " +
		"(or `aws login --profile %s`), which replaces it",
	LoginSessionEnded: "the `aws login` session of %s has ended (sessions last up to 12 hours): " +
		"run `rolecall login --profile %s` (or `aws login --profile %s`), or use Log in in the tray, then retry",
	LoginPasswordChanged: "the `aws login` session of %s ended because the password changed: " +
		"run `rolecall login --profile %s` (or `aws login --profile %s`) with the new password",
	LoginNoPermission: "%s may not renew its `aws login` session: it needs the permission signin:CreateOAuth2Token " +
		"(the AWS managed policy SignInLocalDevelopmentAccess); ask an administrator to attach it, then run `rolecall load --profile %s` again",
	SigninUnreachable: "cannot reach the AWS sign-in service at %s (network, proxy, or the profile's region?); rolecall retries by itself",
	LoginCodeInvalid:  "that is not the code the sign-in page shows (copy all of it): run `rolecall login --profile %s --no-browser` again",
	LoginCodeExpired: "the sign-in took too long and its code expired before rolecall could use it: " +
		"run `rolecall login --profile %s` again",
	LoginRefusedBrowser: "the AWS sign-in page refused the login (%s): run `rolecall login --profile %s` to try again",
	LoginNotSession:     "profile %s has no login_session in %s: `rolecall login --profile` signs in `aws login` profiles; for IAM Identity Center use `rolecall login --sso-session NAME`",
	SSHMissing:          "no ssh program on PATH: install OpenSSH's client (sudo apt-get install openssh-client), then retry",
	SSHUnsupported:      "rolecall ssh runs on Linux only for now",
	SSHFailed: "ssh to %s ended (exit status %d) before the remote command started, as its message above says: " +
		"check that `ssh` with the same arguments logs in",
	SSHForwardRefused: "%s refused to forward a port on its loopback to rolecall: its sshd_config needs " +
		"`AllowTcpForwarding yes` (or `remote`)",
	SSHPortTaken: "port %d on %s's loopback is taken (or its sshd refuses forwarding): leave --remote-port out to let sshd pick a free one",
	SSHOtherRole: "%[1]s already gets %[2]s through open rolecall ssh sessions, and a destination gets one role at a time: " +
		"connect with --profile %[2]s, or end those sessions first to give it %[3]s",
	SSHRolecallStopped: "rolecall stopped: %s gets no credentials through this session any more; " +
		"start rolecall again and reconnect with rolecall ssh",
	MenuNewSession: "Start a new session",
}

// Say is the text t with its arguments.
func Say(t Text, args ...any) string {
	s, ok := texts[t]
	if !ok {
		return fmt.Sprintf("message %d: %v", int(t), args)
	}
	return fmt.Sprintf(s, args...)
}

// Problem is an error whose words come from the texts table; it may wrap
// the cause (for errors.Is) without showing it.
type Problem struct {
	Text Text
	msg  string
	err  error
}

// Errorf is the error of text t; cause (may be nil) is kept for errors.Is.
func Errorf(t Text, cause error, args ...any) error {
	return &Problem{Text: t, msg: Say(t, args...), err: cause}
}

func (p *Problem) Error() string { return p.msg }

// Unwrap returns the cause.
func (p *Problem) Unwrap() error { return p.err }

// List joins names for a sentence: "a, b and c".
func List(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
