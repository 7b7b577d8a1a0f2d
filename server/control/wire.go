package control

import "github.com/rolecall/rolecall/creds"

// The wire types of the control API: JSON over HTTP on the control socket
// (or named pipe). `rolecall ... --json` prints several of them as they are,
// so their field names are a stable interface.

// LoadRequest asks for a profile, or an account and role, in a slot.
type LoadRequest struct {
	Profile   string `json:"profile,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	RoleName  string `json:"role_name,omitempty"`
	// Slot loads into the named slot of the profile instead of the default.
	Slot bool `json:"slot,omitempty"`
}

// UnloadRequest empties the default slot (Profile empty) or a named slot.
type UnloadRequest struct {
	Profile string `json:"profile,omitempty"`
}

// Status describes the running process.
type Status struct {
	PID       int    `json:"pid"`
	Version   string `json:"version"`
	URL       string `json:"url"`
	TokenFile string `json:"token_file"`
	TLS       bool   `json:"tls"`
}

// SlotInfo is one slot as `rolecall list --json` prints it.
type SlotInfo struct {
	Slot        string `json:"slot"` // "default" or the profile name
	Profile     string `json:"profile"`
	RoleARN     string `json:"role_arn,omitempty"`
	AccountID   string `json:"account_id,omitempty"`
	Expiration  string `json:"expiration,omitempty"`
	State       string `json:"state"`
	Error       string `json:"error,omitempty"`
	Pinned      bool   `json:"pinned"`
	NextRefresh string `json:"next_refresh,omitempty"`
	// NotSaved, in a load's answer only: the slot was loaded but the
	// change could not be saved for the next start (a full disk), and why.
	NotSaved string `json:"not_saved,omitempty"`
}

// NewSlotInfo converts a slot snapshot.
func NewSlotInfo(s creds.Slot) SlotInfo {
	si := SlotInfo{
		Slot: s.Name, Profile: s.Profile.Name, RoleARN: s.Creds.RoleARN, AccountID: s.Creds.AccountID,
		State: string(s.State), Error: s.Err, Pinned: s.Pinned,
	}
	if s.IsDefault() {
		si.Slot = "default"
	}
	if !s.Creds.Expiration.IsZero() {
		si.Expiration = s.Creds.Expiration.UTC().Format(creds.ExpirationFormat)
	}
	if !s.NextRefresh.IsZero() {
		si.NextRefresh = s.NextRefresh.UTC().Format(creds.ExpirationFormat)
	}
	return si
}

// Env is what a terminal or IDE needs to use a slot.
type Env struct {
	FullURI   string `json:"full_uri"`
	TokenFile string `json:"token_file"`
	// Token is the bearer token in force, for the clients that read only
	// AWS_CONTAINER_AUTHORIZATION_TOKEN.
	Token string `json:"token,omitempty"`
	// Region is the slot's region (creds.Profile.Region); empty when its
	// role has none.
	Region string `json:"region,omitempty"`
	// IMDS tells whether the listener serves the EC2 metadata routes.
	IMDS bool `json:"imds"`
}

// SessionInfo is one SSO session as the running process holds it.
type SessionInfo struct {
	Key      string `json:"key"`
	StartURL string `json:"start_url"`
	SignedIn bool   `json:"signed_in"`
	// ExpiresAt is the access token's end (creds.ExpirationFormat); a
	// Renewable session is renewed before then without a login.
	ExpiresAt string `json:"expires_at,omitempty"`
	Renewable bool   `json:"renewable"`
	LoggingIn bool   `json:"logging_in"`
	// Kind is "" for an IAM Identity Center session, "login" for an
	// `aws login` session, whose Key is its principal's ARN, Label names
	// it for people and Profile is the profile that signs it in.
	Kind    string `json:"kind,omitempty"`
	Label   string `json:"label,omitempty"`
	Profile string `json:"profile,omitempty"`
	// Ends is when the session itself ends as far as is known
	// (creds.ExpirationFormat; empty when unknown).
	Ends string `json:"ends,omitempty"`
}

// OpenRequest asks the running rolecall to show a URL that carries a
// secret (the console sign-in URL) in the user's browser.
type OpenRequest struct {
	URL string `json:"url"`
}

// Token carries the bearer token.
type Token struct {
	Token string `json:"token"`
}

// TLSPair carries a PEM certificate and key.
type TLSPair struct {
	Cert string `json:"cert"`
	Key  string `json:"key,omitempty"`
	// Active reports whether the listener serves this pair now.
	Active bool `json:"active"`
	// Saved reports whether the pair outlives this process (a keyring
	// holds it); false: kept in memory only, and Note says what to do.
	Saved bool   `json:"saved"`
	Note  string `json:"note,omitempty"`
}

// LoginRequest asks for a login to a session (empty: the only one), or,
// with Profile, the `aws login` sign-in of a login_session profile.
type LoginRequest struct {
	Session   string `json:"session,omitempty"`
	NoBrowser bool   `json:"no_browser,omitempty"`
	// PKCE asks for the authorization-code flow with PKCE (the device
	// flow is used anyway without a browser, a display, or over SSH).
	PKCE bool `json:"pkce,omitempty"`
	// Force starts a new Identity Center session (the current one is
	// ended with the portal's Logout first), with its full length.
	Force bool `json:"force,omitempty"`
	// Profile names a login_session profile to sign in with (a new one
	// is added to the AWS config, in Region).
	Profile string `json:"profile,omitempty"`
	Region  string `json:"region,omitempty"`
}

// LoginPrompt is what the user approves in the browser.
type LoginPrompt struct {
	Session                 string `json:"session"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresAt               string `json:"expires_at"`
	// CrossDevice: the sign-in page shows a code to bring back with
	// SigninCode (an `aws login` sign-in without a browser here).
	CrossDevice bool `json:"cross_device,omitempty"`
}

// SigninCodeRequest hands the code the sign-in page showed to the
// cross-device sign-in of a profile.
type SigninCodeRequest struct {
	Profile string `json:"profile"`
	Code    string `json:"code"`
}

// LoginResult is a finished login.
type LoginResult struct {
	Session   string `json:"session"`
	ExpiresAt string `json:"expires_at"`
}

// loginEvent is one line of the streamed answer to POST /v1/login.
type loginEvent struct {
	Prompt *LoginPrompt `json:"prompt,omitempty"`
	Result *LoginResult `json:"result,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// RoleInfo is one role `rolecall roles` lists.
type RoleInfo struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"` // "profile" or "discovered"
	Session     string `json:"session"`
	AccountID   string `json:"account_id,omitempty"`
	AccountName string `json:"account_name,omitempty"`
	RoleName    string `json:"role_name,omitempty"`
}

// Roles is every loadable role, and the sessions that need a login before
// their roles can be listed.
type Roles struct {
	Roles     []RoleInfo `json:"roles"`
	NeedLogin []string   `json:"need_login"`
}

// LogoutRequest names the session to end (empty: the only one).
type LogoutRequest struct {
	Session string `json:"session,omitempty"`
}

// LogoutResult names the session ended and the slots emptied with it.
type LogoutResult struct {
	Session  string   `json:"session"`
	Unloaded []string `json:"unloaded"`
}

// Credentials are a slot's role credentials, handed only over the control
// socket to the user who runs rolecall (`rolecall credential-process`,
// `rolecall console`).
type Credentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token"`
	Expiration      string `json:"expiration"`
	RoleARN         string `json:"role_arn,omitempty"`
	AccountID       string `json:"account_id,omitempty"`
}
