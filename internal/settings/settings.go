package settings

import (
	"reflect"
	"strconv"
	"strings"
)

// Source says how the user wrote the settings of a loaded configuration.
// Setting says how to name the field at path, a Go field path without an
// index ("BatchSize", "Retry.MaxDelay"), whose value is now value. name is
// the field's file key or environment variable, or "" when the source does
// not know the field or code changed it since it was loaded: the field is
// then named by its path. set reports that the loader set the field to
// value; loc is then the "file:line" of its key, or "" for an environment
// variable, and written the value as the user wrote it, or "" to have the
// value shown as the caller formats it.
type Source interface {
	Setting(path string, value any) (name, loc, written string, set bool)
}

// Names names the fields of Config, a pointer to a struct, as Source says.
// With a nil Source every field is named by its Go path.
type Names struct {
	Source Source
	Config any
}

// Ref is how messages name one field.
type Ref struct {
	Loc  string // "file:line" of a field a file set, else ""
	Name string // the file key, the variable or the Go path
	Env  bool   // Name is the variable that set the field
	Set  bool   // a loader set the field
	// Written is the value as the loader found it, "" if it is not to be
	// shown.
	Written string
}

// Ref names the field at path (ServerURLs[1], Retry.MaxDelay) as n.Source
// says, with the index of an element after the name
// (tracing.server_urls[1]); by its Go path when there is no Source or the
// Source does not know the field.
func (n Names) Ref(path string) Ref {
	if n.Source == nil {
		return Ref{Name: path}
	}
	base, index := path, ""
	if i := strings.IndexByte(path, '['); i >= 0 {
		base, index = path[:i], path[i:]
	}
	v, ok := Value(n.Config, base)
	if !ok {
		return Ref{Name: path}
	}
	name, loc, written, set := n.Source.Setting(base, v)
	if name == "" {
		return Ref{Name: path}
	}
	if index != "" {
		written = "" // the value written is the whole list
	}
	return Ref{Loc: loc, Name: name + index, Env: set && loc == "", Set: set, Written: written}
}

// Name names the field at path, for a message about another field: the
// file key, variable or path, as Ref says, without location.
func (n Names) Name(path string) string { return n.Ref(path).Name }

// Describe formats "name = value" for a message about the field at path
// whose value is shown as shown: prefixed with the file and line of a
// file key ("t.toml:3: tracing.batch_size = 0"), as NAME="value" for an
// environment variable, with the value as it was written where the
// loader kept it.
func (n Names) Describe(path, shown string) string {
	r := n.Ref(path)
	if r.Written != "" {
		shown = r.Written
	}
	switch {
	case r.Env:
		if !strings.HasPrefix(shown, `"`) {
			shown = strconv.Quote(shown)
		}
		return r.Name + "=" + shown
	case r.Loc != "":
		return r.Loc + ": " + r.Name + " = " + shown
	}
	return r.Name + " = " + shown
}

// Value returns the value of the field at path ("Retry.MaxDelay") of cfg,
// a pointer to a struct, or false when it has no such exported field.
func Value(cfg any, path string) (any, bool) {
	v := reflect.ValueOf(cfg).Elem()
	for name := range strings.SplitSeq(path, ".") {
		if v.Kind() != reflect.Struct {
			return nil, false
		}
		if v = v.FieldByName(name); !v.IsValid() || !v.CanInterface() {
			return nil, false
		}
	}
	return v.Interface(), true
}
