//go:build linux

package main

import (
	"errors"
	"fmt"
	"testing"
)

// rig adapts the test rig's helpers (internal/desktoptest takes a
// testing.TB) to this program: a failure or a skip ends the measurement
// with its message, cleanups run at the end. The embedded interface is
// nil: only the methods below may be called.
type rig struct {
	testing.TB
	cleanups []func()
}

type rigStop struct{ msg string }

func (r *rig) Helper()                   {}
func (r *rig) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *rig) Fatal(a ...any)            { panic(rigStop{fmt.Sprint(a...)}) }
func (r *rig) Fatalf(f string, a ...any) { panic(rigStop{fmt.Sprintf(f, a...)}) }
func (r *rig) Skip(a ...any)             { panic(rigStop{fmt.Sprint(a...)}) }
func (r *rig) Skipf(f string, a ...any)  { panic(rigStop{fmt.Sprintf(f, a...)}) }

// run calls f, turning a rig failure into an error, and then runs the
// cleanups, last first.
func (r *rig) run(f func() error) (err error) {
	defer func() {
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
		if p := recover(); p != nil {
			s, ok := p.(rigStop)
			if !ok {
				panic(p)
			}
			err = errors.New(s.msg)
		}
	}()
	return f()
}
