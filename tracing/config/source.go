package config

import (
	"crypto/sha256"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// loaded is the ConfigSource of the configuration loaders (Load,
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
	base tracing.ConfigSource
}

// origin is where a loader found one setting.
type origin struct {
	file string // the file of a file key; "" for an environment variable
	line int    // the key's line in file, 0 if unknown
	// shown is the value as written, for messages (redacted for a secret).
	shown string
	// value is what kept returns for the field as the loader set it: a
	// field that no longer holds it was changed in code, and is named as
	// a field.
	value any
}

// edit returns a copy of c's loaded, for a loader to change, and makes it
// c's Source.
func edit(c *tracing.TracingConfig) *loaded {
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
func loadedEnv(c *tracing.TracingConfig) { edit(c).env = true }

// loadedFile marks c as read from a file.
func loadedFile(c *tracing.TracingConfig) { edit(c).file = true }

// warn adds a loader's warning to c.
func warn(c *tracing.TracingConfig, w string) {
	l := edit(c)
	l.warnings = append(l.warnings, w)
}

// record notes that the loader set settings[i] of c, as o says; the
// field's current value is kept to tell a later change in code.
func record(c *tracing.TracingConfig, i int, o origin) {
	o.value = kept(&settings[i], settings[i].get(c))
	edit(c).origins[i] = o
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
	if o, ok := l.origins[i]; ok && reflect.DeepEqual(o.value, kept(st, value)) {
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
	def := tracing.DefaultConfig()
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

// kept is what a loader keeps of the value v of st's field, to tell a
// later change in code: a copy, so that changes to the field's slice or
// map do not change it, or for a secret its SHA-256, so that no secret is
// kept where it could be printed.
func kept(st *setting, v any) any {
	switch x := v.(type) {
	case string:
		if st.kind == kindSecret {
			return sha256.Sum256([]byte(x))
		}
	case []string:
		return slices.Clone(x)
	case []tracing.EventKind:
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

// plain reports whether values of the kind can be shown as written: they
// hold no secret and no URL (which may carry a password).
func (k settingKind) plain() bool {
	switch k {
	case kindBool, kindInt, kindRetries, kindUint, kindFloat, kindFill, kindMillis, kindPolicy, kindCompression, kindProtocol, kindChecksums:
		return true
	}
	return false
}
