// Package enum names the values of the SDK's small configuration enums
// (a protocol generation, a compression algorithm, a checksum mode) for
// their String, MarshalText and UnmarshalText methods, so that every enum
// spells, parses and reports a bad name the same way.
package enum

import (
	"fmt"
	"strings"
)

// Names names the values of an enum: Names[v] is the name of value v.
// Aliases are the other spellings Parse accepts ("" for the default among
// them). Names are read case-insensitively, surrounding blanks ignored.
// Err is the sentinel the errors of Marshal and Parse wrap.
type Names[T ~uint8] struct {
	Type    string // the Go type, for Name of an unknown value
	What    string // what a value is, for errors: "protocol"
	Names   []string
	Aliases map[string]T
	Err     error
}

// Name returns v's name, or Type(v) for a value without one.
func (e *Names[T]) Name(v T) string {
	if int(v) < len(e.Names) {
		return e.Names[v]
	}
	return fmt.Sprintf("%s(%d)", e.Type, uint8(v))
}

// Marshal returns v's name; a value without one is an error wrapping Err.
func (e *Names[T]) Marshal(v T) ([]byte, error) {
	if int(v) >= len(e.Names) {
		return nil, fmt.Errorf("%w: unknown %s %d", e.Err, e.What, uint8(v))
	}
	return []byte(e.Names[v]), nil
}

// Parse returns the value named s. An unknown name is an error wrapping
// Err that quotes s and lists the names.
func (e *Names[T]) Parse(s string) (T, error) {
	k := strings.ToLower(strings.TrimSpace(s))
	for i, n := range e.Names {
		if k == n {
			return T(i), nil
		}
	}
	if v, ok := e.Aliases[k]; ok {
		return v, nil
	}
	last := len(e.Names) - 1
	return 0, fmt.Errorf("%w: unknown %s %q: want %s or %s", e.Err, e.What, s,
		strings.Join(e.Names[:last], ", "), e.Names[last])
}

// Unmarshal parses b into *dst, which it leaves alone on error.
func (e *Names[T]) Unmarshal(dst *T, b []byte) error {
	v, err := e.Parse(string(b))
	if err == nil {
		*dst = v
	}
	return err
}
