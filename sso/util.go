package sso

import (
	"slices"
	"strings"
)

func joinSorted(names []string) string {
	slices.Sort(names)
	return strings.Join(names, ", ")
}
