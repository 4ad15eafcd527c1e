package tracing

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// ConfigSource says how the user wrote the settings of a loaded
// TracingConfig, so that what Validate, Warnings and New say about the
// config names each setting as written: by file, line and key, or by
// environment variable. The loaders set one as TracingConfig.Source; a
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
	// written the value as written, or "" when it is not to be shown (a
	// secret, or a string, which may hold a password).
	Setting(path string, value any) (name, loc, written string, set bool)
	// Warnings returns what the loaders found suspicious but valid, one
	// sentence each, naming settings as written.
	Warnings() []string
}

// loaded is the ConfigSource of the configuration loaders (LoadConfig,
// ApplyEnv and the functions built on them): where each setting came
// from, and the warnings they found. A loaded is never modified once a
// config holds it: a loader that adds to it works on a copy, so copies of
// a config never see each other's changes.
type loaded struct {
	origins  map[int]origin // by index in settings
	file     bool           // a file was read
	env      bool           // the environment was read
	warnings []string
	// base is the Source of the config the loaders started from, when
	// they did not set it: it names the fields they did not set.
	base ConfigSource
}

// origin is where a loader found one setting.
type origin struct {
	file string // the file of a file key; "" for an environment variable
	line int    // the key's line in file, 0 if unknown
	// shown is the value as written, for messages (redacted for a secret).
	shown string
	// value is a copy of the field as the loader set it: a field that no
	// longer holds it was changed in code, and is named as a field.
	value any
}

// edit returns a copy of c's loaded, for a loader to change, and makes it
// c's Source.
func (c *TracingConfig) edit() *loaded {
	l := &loaded{origins: map[int]origin{}}
	if from, ok := c.Source.(*loaded); ok {
		*l = *from
		l.origins = maps.Clone(from.origins)
		l.warnings = slices.Clip(l.warnings)
	} else {
		l.base = c.Source
	}
	c.Source = l
	return l
}

// loadedEnv marks c as read from the environment.
func (c *TracingConfig) loadedEnv() { c.edit().env = true }

// loadedFile marks c as read from a file.
func (c *TracingConfig) loadedFile() { c.edit().file = true }

// warn adds a loader's warning to c.
func (c *TracingConfig) warn(w string) {
	l := c.edit()
	l.warnings = append(l.warnings, w)
}

// record notes that the loader set settings[i] of c, as o says; the
// field's current value is kept to tell a later change in code.
func (c *TracingConfig) record(i int, o origin) {
	o.value = copyField(settings[i].get(c))
	c.edit().origins[i] = o
}

// Setting implements ConfigSource: a field a loader set is named by its
// key and line or its variable while it holds what the loader set; a
// field that holds its default by the key of the file, or by the
// variable when only the environment was read, without location (the
// user sets it there).
func (l *loaded) Setting(path string, value any) (name, loc, written string, set bool) {
	i := settingIndex(path)
	if i < 0 {
		return "", "", "", false
	}
	st := &settings[i]
	if o, ok := l.origins[i]; ok && reflect.DeepEqual(o.value, value) {
		if st.kind.plain() {
			written = o.shown
		}
		if o.file == "" {
			return st.env, "", written, true
		}
		loc = o.file
		if o.line > 0 {
			loc += ":" + strconv.Itoa(o.line)
		}
		return st.key, loc, written, true
	}
	if l.base != nil {
		if name, loc, written, set := l.base.Setting(path, value); name != "" {
			return name, loc, written, set
		}
	}
	def := DefaultConfig()
	if reflect.DeepEqual(value, st.get(&def)) {
		switch {
		case l.file:
			return st.key, "", "", false
		case l.env:
			return st.env, "", "", false
		}
	}
	return "", "", "", false
}

// Warnings implements ConfigSource.
func (l *loaded) Warnings() []string {
	var ws []string
	if l.base != nil {
		ws = l.base.Warnings()
	}
	return append(ws, l.warnings...)
}

// copyField copies a field's value so that later changes to the field's
// slice or map do not change it.
func copyField(v any) any {
	switch x := v.(type) {
	case []string:
		return slices.Clone(x)
	case []EventKind:
		return slices.Clone(x)
	case map[string]string:
		return maps.Clone(x)
	}
	return v
}

// settingIndex returns the index in settings of the setting whose field
// path is name ("QueueSize", "Retry.MaxRetries"), or -1.
func settingIndex(name string) int {
	for i := range settings {
		if settings[i].name == name {
			return i
		}
	}
	return -1
}

// settingByEnv returns the setting of the environment variable name, or
// nil.
func settingByEnv(name string) *setting {
	for i := range settings {
		if settings[i].env == name {
			return &settings[i]
		}
	}
	return nil
}

// settingByKey returns the index in settings of the setting of the file
// key ("tracing.batch_size"), or -1.
func settingByKey(key string) int {
	for i := range settings {
		if settings[i].key == key {
			return i
		}
	}
	return -1
}

// envNames returns the name of every variable ApplyEnv reads.
func envNames() []string {
	names := make([]string, len(settings))
	for i := range settings {
		names[i] = settings[i].env
	}
	return names
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

// plain reports whether values of the kind can be shown as written: they
// hold no secret and no URL (which may carry a password).
func (k settingKind) plain() bool {
	switch k {
	case kindBool, kindInt, kindRetries, kindUint, kindFloat, kindFill, kindMillis, kindPolicy, kindCompression, kindProtocol, kindChecksums:
		return true
	}
	return false
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
