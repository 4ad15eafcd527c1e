package tracing

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// ConfigSource says how the user wrote the settings of a loaded
// TracingConfig, so that what Validate, Warnings and New say about the
// config names each setting as written: by file, line and key, or by
// environment variable. The loaders of package config set one as
// TracingConfig.Source; a loader of another format may set its own. A
// config built in code has none, and its fields are named by their Go
// paths. Copies of a config share their ConfigSource: it must be safe for
// concurrent use and never change once a config holds it.
type ConfigSource interface {
	// Setting says how to name the field at path, a Go field path
	// without an index ("BatchSize", "Retry.MaxDelay"), whose value is
	// now value. name is the field's file key or environment variable,
	// or "" when the source does not know the field or code changed it
	// since it was loaded: the field is then named by its path. set
	// reports that the loader set the field to value; loc is then the
	// "file:line" of its key, or "" for an environment variable, and
	// written the value as the user wrote it, or "" to have the current
	// value shown as for a config built in code (with the password of a
	// URL hidden). written must never hold a secret.
	Setting(path string, value any) (name, loc, written string, set bool)
	// Warnings returns what the loaders found suspicious but valid, one
	// sentence each, naming settings as written.
	Warnings() []string
}

// fieldRef is how messages about a config name one of its fields.
type fieldRef struct {
	loc  string // "file:line" of a field a file set, else ""
	name string // the file key, the variable or the Go path
	env  bool   // name is the variable that set the field
	set  bool   // a loader set the field
	// written is the value as the loader found it, "" if it is not to be
	// shown.
	written string
}

// fieldRef names the field at path (ServerURLs[1], Retry.MaxDelay) of c as
// c.Source says, with the index of an element after the name
// (tracing.server_urls[1]); by its Go path when c has no Source or the
// Source does not know the field.
func (c *TracingConfig) fieldRef(path string) fieldRef {
	if c.Source == nil {
		return fieldRef{name: path}
	}
	base, index := path, ""
	if i := strings.IndexByte(path, '['); i >= 0 {
		base, index = path[:i], path[i:]
	}
	v, ok := fieldValue(c, base)
	if !ok {
		return fieldRef{name: path}
	}
	name, loc, written, set := c.Source.Setting(base, v)
	if name == "" {
		return fieldRef{name: path}
	}
	if index != "" {
		written = "" // the value written is the whole list
	}
	return fieldRef{loc: loc, name: name + index, env: set && loc == "", set: set, written: written}
}

// fieldValue returns the value of the field at path ("Retry.MaxDelay") of
// c, or false when c has no such field.
func fieldValue(c *TracingConfig, path string) (any, bool) {
	v := reflect.ValueOf(c).Elem()
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

// ref names the field at path, for a message about another field: the
// file key, variable or path, as fieldRef says, without location.
func (c *TracingConfig) ref(path string) string { return c.fieldRef(path).name }

// describe formats "name = value" for a message about the field at path
// whose value is shown as shown: prefixed with the file and line of a
// file key ("t.toml:3: tracing.batch_size = 0"), as NAME="value" for an
// environment variable, with the value as it was written where the
// loader kept it.
func (c *TracingConfig) describe(path, shown string) string {
	r := c.fieldRef(path)
	if r.written != "" {
		shown = r.written
	}
	switch {
	case r.env:
		if !strings.HasPrefix(shown, `"`) {
			shown = strconv.Quote(shown)
		}
		return r.name + "=" + shown
	case r.loc != "":
		return r.loc + ": " + r.name + " = " + shown
	}
	return r.name + " = " + shown
}

// problem is one thing Validate rejects: the field's path, its value as
// shown in messages, and what is wanted.
type problem struct {
	path  string
	value string
	why   string
}

// err formats p as an error of c wrapping ErrInvalidConfig.
func (c *TracingConfig) problemError(p problem) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, c.describe(p.path, p.value), p.why)
}
