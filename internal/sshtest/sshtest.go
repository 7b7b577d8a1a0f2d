// Package sshtest stands in for a remote dev box in tests: Debian's sshd
// on a loopback port with a private configuration and host key, and two
// throwaway accounts that log in with a temporary key. It needs root
// (useradd, sshd); everything it makes is removed when the test ends,
// also when it fails. Tests only; never linked into rolecall.
package sshtest
