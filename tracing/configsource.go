package tracing

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// loaded is what the configuration loaders (LoadConfig, ApplyEnv and the
// functions built on them) keep in the TracingConfig they return: where
// each setting came from, so that errors and warnings name the file, line
// and key or the variable the user wrote rather than a Go field, and the
// warnings they found. A loaded is never modified once a config holds it:
// a loader that adds to it works on a copy, so copies of a config never
// see each other's changes.
type loaded struct {
	origins  map[int]origin // by index in settings
	file     bool           // a file was read
	env      bool           // the environment was read
	warnings []string
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

// edit returns a copy of c's loaded, for a loader to change.
func (c *TracingConfig) edit() *loaded {
	l := &loaded{origins: map[int]origin{}}
	if c.from != nil {
		*l = *c.from
		l.origins = maps.Clone(c.from.origins)
		l.warnings = slices.Clip(l.warnings)
	}
	c.from = l
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
	o.value = copyField(reflect.ValueOf(settings[i].field(c)).Elem().Interface())
	c.edit().origins[i] = o
}

// origin returns where settings[i] of c came from, if a loader set it and
// the field still holds what the loader set.
func (c *TracingConfig) origin(i int) (origin, bool) {
	if c.from == nil {
		return origin{}, false
	}
	o, ok := c.from.origins[i]
	if !ok || !reflect.DeepEqual(o.value, reflect.ValueOf(settings[i].field(c)).Elem().Interface()) {
		return origin{}, false
	}
	return o, true
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
	o    origin // the origin of a field a loader set
	set  bool   // a loader set the field (o is meaningful)
}

// fieldRef names the field at path (ServerURLs[1], Retry.MaxDelay) of c:
//
//   - a field a file set: by the file and line, and its key
//     (tracing.server_urls[1]);
//   - a field an environment variable set: by the variable;
//   - a field of a loaded config that holds its default: by the key of
//     the file, or the variable when only the environment was read,
//     without location (the user sets it there);
//   - any other field (set in code, or a config built in code): by its
//     Go path.
func (c *TracingConfig) fieldRef(path string) fieldRef {
	base, index := path, ""
	if i := strings.IndexByte(path, '['); i >= 0 {
		base, index = path[:i], path[i:]
	}
	i := settingIndex(base)
	if i < 0 {
		return fieldRef{name: path}
	}
	st := &settings[i]
	if o, ok := c.origin(i); ok {
		if o.file == "" {
			return fieldRef{name: st.env + index, env: true, o: o, set: true}
		}
		loc := o.file
		if o.line > 0 {
			loc += ":" + strconv.Itoa(o.line)
		}
		return fieldRef{loc: loc, name: st.key + index, o: o, set: true}
	}
	if c.from != nil {
		def := DefaultConfig()
		if reflect.DeepEqual(reflect.ValueOf(st.field(c)).Elem().Interface(), reflect.ValueOf(st.field(&def)).Elem().Interface()) {
			switch {
			case c.from.file:
				return fieldRef{name: st.key + index}
			case c.from.env:
				return fieldRef{name: st.env + index}
			}
		}
	}
	return fieldRef{name: path}
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
	if r.set && !strings.Contains(path, "[") && settings[settingIndex(path)].kind.plain() {
		shown = r.o.shown
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
