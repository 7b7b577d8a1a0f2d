//go:build !linux

package containers

import "errors"

var errUnsupported = errors.New("the container set-up is for Linux hosts (Docker Desktop on macOS and Windows runs containers in a VM: use host.docker.internal with TLS, see the README's Containers)")

func (Host) on([]string, int) (Setup, error) { return Setup{}, errUnsupported }

func (Host) off() error { return errUnsupported }

func (Host) status() (Setup, bool, []string, error) { return Setup{}, false, nil, errUnsupported }
