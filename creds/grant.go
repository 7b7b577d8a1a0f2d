package creds

import (
	"errors"
	"time"
)

// Grant is a named permission for one consumer (an IDE run configuration,
// a script, a container, an AI coding agent) to read the credentials of
// one named slot and nothing else, as the ECS agent gives each task its
// own credential ID bound to the task's role. The grants package owns the
// grants; this is a copy of one.
type Grant struct {
	// Name names the consumer; the audit log and `rolecall grant list`
	// show it.
	Name string
	// Slot is the named slot (the profile name) the grant reads.
	Slot string
	// Definition is what Slot's name resolved to when the grant was made
	// (Profile.Definition: account, role, chain, session): the grant reads
	// that role, not whatever the name names after an edit of the AWS
	// config. Empty: made before grants recorded it; not checked.
	Definition string
	Created    time.Time
	// Expires is when the grant ends; zero: when revoked.
	Expires time.Time
	// Revoked is when the grant was revoked; zero: it was not.
	Revoked time.Time
	// State is the grant's state when its owner handed out this copy.
	State GrantState
	// LastUsed, Uses and From describe its hand-outs: the last one, how
	// many, and the client of the last one (its executable or address).
	LastUsed time.Time
	Uses     int64
	From     string
}

// GrantUse counts the hand-outs of one grant: the credential listener
// calls Used after each, with the client (its executable, or address).
type GrantUse interface {
	Used(client string)
}

// Errors about grants; check them with errors.Is.
var (
	// ErrNoSuchGrant: no grant has that secret (or that name).
	ErrNoSuchGrant = errors.New("no such grant")
	// ErrGrantRevoked: the grant was revoked.
	ErrGrantRevoked = errors.New("grant revoked")
	// ErrGrantExpired: the grant's time is over.
	ErrGrantExpired = errors.New("grant expired")
)

// GrantState says whether a grant can be used.
type GrantState string

// The states of a grant.
const (
	GrantActive  GrantState = "active"
	GrantRevoked GrantState = "revoked"
	GrantExpired GrantState = "expired"
)

// GrantAdvice is the one line a consumer reads when its grant cannot be
// used (err from the grants' owner, g the grant it names, if any): what
// happened and what to do.
func GrantAdvice(g Grant, err error) string {
	switch {
	case errors.Is(err, ErrGrantRevoked):
		return Say(GrantWasRevoked, g.Name, g.Revoked.UTC().Format(ExpirationFormat), g.Name, g.Slot)
	case errors.Is(err, ErrGrantExpired):
		return Say(GrantHasExpired, g.Name, g.Expires.UTC().Format(ExpirationFormat), g.Name, g.Slot)
	default:
		return Say(GrantUnknown)
	}
}
