package engine

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/sso"
)

// identityCenter adapts the sso client to the control socket's Sessions
// and Resolve: conversions only (the sign-in time is the session's, kept
// by sso).
type identityCenter struct {
	client *sso.Client
	// open hands a sign-in URL to the UI's browser (an `aws login`
	// sign-in on this machine); nil: none, the sign-in is cross-device.
	open func(url string) error
	log  *slog.Logger
}

// opener is open as the sign-in's callback; nil when there is none.
func (ic identityCenter) opener() func(string) {
	if ic.open == nil {
		return nil
	}
	return func(u string) {
		if err := ic.open(u); err != nil {
			// The URL carries the PKCE challenge only: no secret in a log.
			ic.log.Warn("could not open a browser for the sign-in", "err", err)
		}
	}
}

func (ic identityCenter) resolve(ctx context.Context, req control.LoadRequest) (creds.Profile, error) {
	return ic.client.Resolve(ctx, req.Profile, req.AccountID, req.RoleName)
}

// signIn logs in to session (empty: the only one) in the background of
// the tray, as opts say (a login no click asked for, a new session); an
// `aws login` session signs in with its profile.
func (ic identityCenter) signIn(ctx context.Context, session string, opts sso.LoginOptions) error {
	if ls, ok := ic.client.LoginSessionOf(ctx, session); ok {
		_, err := ic.client.SignIn(ctx, ls.Profile(), sso.SigninOptions{Automatic: opts.Automatic, Open: ic.opener()})
		return err
	}
	s, err := ic.client.Session(ctx, session)
	if err != nil {
		return err
	}
	_, err = ic.client.Login(ctx, s, opts)
	return err
}

func (ic identityCenter) Login(ctx context.Context, req control.LoginRequest, prompt func(control.LoginPrompt)) (control.LoginResult, error) {
	if req.Profile != "" {
		return ic.signInProfile(ctx, req, prompt)
	}
	s, err := ic.client.Session(ctx, req.Session)
	if err != nil {
		return control.LoginResult{}, err
	}
	tok, err := ic.client.Login(ctx, s, sso.LoginOptions{
		NoBrowser: req.NoBrowser,
		PKCE:      req.PKCE,
		Force:     req.Force,
		OnPrompt: func(p sso.Prompt) {
			prompt(control.LoginPrompt{
				Session: p.Session, UserCode: p.UserCode, VerificationURI: p.VerificationURI,
				VerificationURIComplete: p.VerificationURIComplete, ExpiresAt: p.ExpiresAt.UTC().Format(creds.ExpirationFormat),
			})
		},
	})
	if err != nil {
		return control.LoginResult{}, err
	}
	return control.LoginResult{Session: s.Key, ExpiresAt: tok.ExpiresAt.UTC().Format(creds.ExpirationFormat)}, nil
}

// signInProfile is `rolecall login --profile P`: the `aws login` sign-in
// of a login_session profile (a new one is added to the AWS config),
// cross-device with --no-browser, over SSH or without a display.
func (ic identityCenter) signInProfile(ctx context.Context, req control.LoginRequest, prompt func(control.LoginPrompt)) (control.LoginResult, error) {
	opts := sso.SigninOptions{Region: req.Region, CrossDevice: req.NoBrowser, Open: ic.opener()}
	opts.OnPrompt = func(p sso.Prompt) {
		prompt(control.LoginPrompt{
			Session: p.Session, VerificationURI: p.VerificationURI, VerificationURIComplete: p.VerificationURIComplete,
			ExpiresAt: p.ExpiresAt.UTC().Format(creds.ExpirationFormat), CrossDevice: p.CrossDevice,
		})
	}
	res, err := ic.client.SignIn(ctx, req.Profile, opts)
	if err != nil {
		return control.LoginResult{}, err
	}
	until := res.Ends
	if until.IsZero() {
		until = res.ExpiresAt
	}
	return control.LoginResult{Session: res.Profile, ExpiresAt: until.UTC().Format(creds.ExpirationFormat)}, nil
}

func (ic identityCenter) Logout(ctx context.Context, session string) (string, error) {
	s, err := ic.client.Session(ctx, session)
	if err != nil {
		return "", err
	}
	return s.Key, ic.client.Logout(ctx, s)
}

func (ic identityCenter) Roles(ctx context.Context) (control.Roles, error) {
	roles, need, err := ic.client.Roles(ctx)
	if err != nil {
		return control.Roles{}, err
	}
	out := control.Roles{NeedLogin: need}
	for _, r := range roles {
		out.Roles = append(out.Roles, control.RoleInfo(r))
	}
	return out, nil
}

// Status reports every SSO session as this process holds it.
func (ic identityCenter) Status(ctx context.Context) ([]control.SessionInfo, error) {
	sessions, err := ic.client.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]control.SessionInfo, 0, len(sessions))
	for _, s := range sessions {
		si := control.SessionInfo{Key: s.Key, StartURL: s.StartURL, SignedIn: s.SignedIn, Renewable: s.Renewable, LoggingIn: s.LoggingIn,
			Kind: s.Kind, Label: s.Label, Profile: s.Profile}
		if !s.ExpiresAt.IsZero() {
			si.ExpiresAt = s.ExpiresAt.UTC().Format(creds.ExpirationFormat)
		}
		if !s.Ends.IsZero() {
			si.Ends = s.Ends.UTC().Format(creds.ExpirationFormat)
		}
		out = append(out, si)
	}
	return out, nil
}

// slotResolver names the profile of a named slot loaded on its first
// request (slots_on_demand): the names resolve knows, as `rolecall load`
// does; for any other name the request stays a 404. Nil when off.
func slotResolver(on bool, resolve func(context.Context, control.LoadRequest) (creds.Profile, error)) creds.Resolver {
	if !on || resolve == nil {
		return nil
	}
	return creds.ResolverFunc(func(ctx context.Context, name string) (creds.Profile, error) {
		p, err := resolve(ctx, control.LoadRequest{Profile: name})
		if err != nil {
			return creds.Profile{}, fmt.Errorf("%w: %v", creds.ErrUnknownName, err)
		}
		return p, nil
	})
}
