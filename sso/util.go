package sso

import (
	"slices"
	"strings"
	"unicode/utf8"
)

func joinSorted(names []string) string {
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// maxSuggest is the most edits a suggestion may be away from the name.
const maxSuggest = 2

// suggest is the name most like name: the same but for case, else at
// most two edits away (and less than half of it); "" when none is. Its
// cost is bounded by the names' lengths times the two edits, whatever the
// name's length: names that differ in length by more than that are not
// compared at all.
func suggest(name string, names []string) string {
	lower := []rune(strings.ToLower(name))
	// Ties go to the name first in sort order; a name equal but for case
	// (distance -1 here) beats any other.
	best, bestD := "", maxSuggest+1
	better := func(n string, d int) bool { return d < bestD || d == bestD && best != "" && n < best }
	for _, n := range names {
		if abs(utf8.RuneCountInString(n)-len(lower)) > max(min(bestD, maxSuggest), 0) {
			continue // too long or short to be as close as the best
		}
		if strings.EqualFold(n, name) {
			if better(n, -1) {
				best, bestD = n, -1
			}
			continue
		}
		if bestD < 0 {
			continue
		}
		if d := editDistance(lower, []rune(strings.ToLower(n)), min(bestD, maxSuggest)); d <= maxSuggest && 2*d < len(lower) && better(n, d) {
			best, bestD = n, d
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// editDistance is the Levenshtein distance of a and b when it is at most
// limit, else limit+1: only the band of cells within limit of the
// diagonal is computed.
func editDistance(a, b []rune, limit int) int {
	if abs(len(a)-len(b)) > limit {
		return limit + 1
	}
	far := limit + 1
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = min(j, far)
	}
	for i := 1; i <= len(a); i++ {
		lo, hi := max(1, i-limit), min(len(b), i+limit)
		// Only the band and the cells just outside it are read.
		cur[lo-1] = far
		if lo == 1 {
			cur[0] = min(i, far)
		}
		if hi < len(b) {
			cur[hi+1] = far
		}
		rowMin := cur[lo-1]
		for j := lo; j <= hi; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost, far)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= far {
			return far
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
