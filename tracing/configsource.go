package tracing

import "github.com/reflowtrace/reflowtrace-go/internal/settings"

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

// names names c's fields as c.Source says.
func (c *TracingConfig) names() settings.Names { return settings.Names{Source: c.Source, Config: c} }

// ref names the field at path, for a message about another field.
func (c *TracingConfig) ref(path string) string { return c.names().Name(path) }

// describe formats "name = value" for a message about the field at path
// whose value is shown as shown, naming it as c.Source says.
func (c *TracingConfig) describe(path, shown string) string { return c.names().Describe(path, shown) }

// problem is one thing Validate rejects: the field's path, its value as
// shown in messages, and what is wanted.
type problem struct {
	path  string
	value string
	why   string
}
