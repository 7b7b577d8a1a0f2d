// Package creds is rolecall's domain: profiles, role credentials, the slots
// that hold them and the Manager that keeps them fresh.
//
// It uses the standard library only and knows nothing of HTTP, AWS clients or
// the tray: credentials come in through the Fetcher port, and state changes go
// out to subscribers as events.
package creds

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Profile names a role that a slot can hold: an AWS config profile, or a role
// discovered in IAM Identity Center (then AccountID and RoleName are set and
// Name reads "<account name>/<role name>").
type Profile struct {
	Name      string `json:"name"`
	AccountID string `json:"account_id,omitempty"`
	RoleName  string `json:"role_name,omitempty"`
	// Session names the SSO session the profile's credentials come from,
	// so that a logout can empty its slots.
	Session string `json:"session,omitempty"`
	// Definition is what the name resolved to (account, role, role chain,
	// session), as the resolver read it: it is the role's identity. After
	// an edit of the AWS config the same name has another definition, and
	// credentials kept for the old one never serve the new one.
	Definition string `json:"definition,omitempty"`
	// Region is where a client of this role works: the profile's
	// `region`, or for a discovered role its SSO session's region; empty
	// when neither says. It travels with the credentials to every client
	// rolecall starts or prepares (env, exec, console).
	Region string `json:"region,omitempty"`
}

// Credentials are temporary AWS credentials for one role.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
	RoleARN         string
	AccountID       string
	// Issued is when the credentials were received; with Expiration it gives
	// their lifetime. The Manager sets it when the Fetcher leaves it zero.
	Issued time.Time
}

// ValidAt reports whether the credentials can still be used at t.
func (c Credentials) ValidAt(t time.Time) bool {
	return c.AccessKeyID != "" && t.Before(c.Expiration)
}

// MaskedKeyID is the access key id as it may appear in logs and menus:
// the first and last four characters only ("ASIA…WXYZ").
func (c Credentials) MaskedKeyID() string { return MaskKeyID(c.AccessKeyID) }

// MaskKeyID shows the first and last four characters of an access key id.
func MaskKeyID(id string) string {
	if len(id) < 12 {
		return "…"
	}
	return id[:4] + "…" + id[len(id)-4:]
}

// Fetcher obtains credentials for a profile from upstream (IAM Identity
// Center, STS). It returns an error wrapping ErrLoginRequired when only an
// interactive login can help.
type Fetcher interface {
	Fetch(ctx context.Context, p Profile) (Credentials, error)
}

// FetcherFunc adapts a function to the Fetcher interface.
type FetcherFunc func(ctx context.Context, p Profile) (Credentials, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, p Profile) (Credentials, error) { return f(ctx, p) }

// Errors returned by the Manager; check them with errors.Is.
var (
	// ErrNoSuchSlot: no named slot of that name is loaded.
	ErrNoSuchSlot = errors.New("no such slot")
	// ErrUnknownName: a named slot asked for by a name that names no role
	// (with slots on demand, any name `rolecall roles` lists would do).
	ErrUnknownName = fmt.Errorf("%w: unknown name", ErrNoSuchSlot)
	// ErrNothingLoaded: the default slot holds no role.
	ErrNothingLoaded = errors.New("no role loaded")
	// ErrLoginRequired: the SSO session behind the profile needs an
	// interactive login before credentials can be had.
	ErrLoginRequired = errors.New("login required")
	// ErrUnavailable: no valid credentials are held and upstream failed (or
	// did not answer in time); it is wrapped with the reason.
	ErrUnavailable = errors.New("credentials unavailable")
	// ErrPermanent: upstream refused in a way that retrying cannot fix (a
	// profile gone from the AWS config, a permission set taken away, a
	// source_profile loop). Fetchers wrap it; the Manager does not retry
	// such a slot until RefreshWaiting (the config or the session changed).
	ErrPermanent = errors.New("not retried until the AWS config or the sign-in changes")
	// ErrClosed: the Manager has been closed.
	ErrClosed = errors.New("credential manager closed")
	// ErrSuperseded: a load finished after a later request for the same
	// slot (a load or an unload): the later request wins, always.
	ErrSuperseded = errors.New("superseded by a later request for the slot")
	// ErrUnloaded: the user unloaded the named slot; it is not loaded on
	// demand until the user loads it again. It wraps ErrNoSuchSlot.
	ErrUnloaded = fmt.Errorf("unloaded by the user: %w", ErrNoSuchSlot)
)

// NeedsLogin is an error of a resolver (or fetcher) that names the
// session whose sign-in would help when the profile asked for does not
// say: a discovered role's name is known only once its session is signed
// in, so a restored slot holding such a name has no session yet. Err
// wraps ErrLoginRequired; the Manager tells OnLoginRequired of Session.
type NeedsLogin struct {
	Session string
	Err     error
}

func (e *NeedsLogin) Error() string { return e.Err.Error() }

func (e *NeedsLogin) Unwrap() error { return e.Err }

// Paused is an error of a fetcher that did not ask upstream because
// upstream failed moments ago for the same session (a shared pause, so
// that many slots do not multiply the calls to a failing service): asking
// again helps from Until on, not before. The Manager retries the slot then
// and does not count the attempt as one of the slot's failures, so a slot
// serves again soon after the service does.
type Paused struct {
	Until time.Time
	Err   error // the failure the pause is for
}

func (e *Paused) Error() string {
	return fmt.Sprintf("%v (not asked again before %s)", e.Err, e.Until.Format(time.TimeOnly))
}

func (e *Paused) Unwrap() error { return e.Err }

// SlotState is the state of one slot.
type SlotState string

// The slot states of SPEC §4.
const (
	StateOK            SlotState = "ok"
	StateRefreshing    SlotState = "refreshing"
	StateLoginRequired SlotState = "login-required"
	StateError         SlotState = "error"
)

// DefaultSlot is the name of the slot served at "/".
const DefaultSlot = ""

// Slot is a snapshot of one slot. It is a value: changing it changes nothing.
type Slot struct {
	// Name is the slot's name: DefaultSlot, or the profile name of a named slot.
	Name    string
	Profile Profile
	Creds   Credentials
	State   SlotState
	// Err is the reason of the last failure, empty when the last fetch worked.
	Err    string
	Pinned bool
	// Permanent: the last failure wraps ErrPermanent; the slot is not
	// fetched again until RefreshWaiting.
	Permanent bool
	// NextRefresh is when the scheduler will next fetch (zero: not scheduled).
	NextRefresh time.Time
}

// IsDefault reports whether s is the default slot.
func (s Slot) IsDefault() bool { return s.Name == DefaultSlot }

// State is a snapshot of every slot, for menus, listings and tests.
type State struct {
	// Default is the default slot, nil when nothing is loaded there.
	Default *Slot
	// Named are the named slots sorted by name.
	Named []Slot
}
