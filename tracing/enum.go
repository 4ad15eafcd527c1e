package tracing

import (
	"fmt"
	"strings"
)

// enumNames names the values of a configuration enum (Protocol,
// CompressionAlgorithm, ChecksumMode) for String, MarshalText and
// UnmarshalText: names[v] is the name of value v, and aliases are the
// other spellings UnmarshalText accepts ("" for the default among them).
// Names are read case-insensitively, surrounding blanks ignored.
type enumNames[T ~uint8] struct {
	typ     string // the Go type, for String of an unknown value
	what    string // what a value is, for errors
	names   []string
	aliases map[string]T
}

func (e *enumNames[T]) name(v T) string {
	if int(v) < len(e.names) {
		return e.names[v]
	}
	return fmt.Sprintf("%s(%d)", e.typ, uint8(v))
}

func (e *enumNames[T]) marshal(v T) ([]byte, error) {
	if int(v) >= len(e.names) {
		return nil, fmt.Errorf("%w: unknown %s %d", ErrInvalidConfig, e.what, uint8(v))
	}
	return []byte(e.names[v]), nil
}

func (e *enumNames[T]) parse(s string) (T, error) {
	k := strings.ToLower(strings.TrimSpace(s))
	for i, n := range e.names {
		if k == n {
			return T(i), nil
		}
	}
	if v, ok := e.aliases[k]; ok {
		return v, nil
	}
	last := len(e.names) - 1
	return 0, fmt.Errorf("%w: unknown %s %q: want %s or %s", ErrInvalidConfig, e.what, s,
		strings.Join(e.names[:last], ", "), e.names[last])
}

func (e *enumNames[T]) unmarshal(dst *T, b []byte) error {
	v, err := e.parse(string(b))
	if err == nil {
		*dst = v
	}
	return err
}
