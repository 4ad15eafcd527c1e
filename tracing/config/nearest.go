package config

import (
	"fmt"
	"strings"
)

// unknownName is the warning or error text for a name that is not one of
// known: what it is, and the nearest known name when one is close.
func unknownName(name, what string, known []string) string {
	msg := fmt.Sprintf("unknown %s %s", what, name)
	if near := nearest(name, known); near != "" {
		msg += ": did you mean " + near + "?"
	}
	return msg
}

// nearest returns the name of known closest to name by edit distance, if
// it is close enough to be a misspelling (at most one edit per three
// characters of the name's last part, and at least one), or the same name
// in another case. It returns "" otherwise.
func nearest(name string, known []string) string {
	best, bestD := "", -1
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(name, k); bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	// The edits allowed grow with the last part of the name, without the
	// table or the variables' prefix that every candidate shares.
	tail := strings.TrimPrefix(name[strings.LastIndexByte(name, '.')+1:], envPrefix)
	if bestD > max(1, len(tail)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
