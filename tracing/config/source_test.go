package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// TestSettingPaths checks that each setting's Go path names its field:
// tracing finds a field's value by that path to ask the Source about it.
func TestSettingPaths(t *testing.T) {
	var c tracing.TracingConfig
	for _, st := range settings {
		v := reflect.ValueOf(&c).Elem()
		for name := range strings.SplitSeq(st.name, ".") {
			v = v.FieldByName(name)
			if !v.IsValid() {
				t.Fatalf("%s: no field %s", st.key, st.name)
			}
		}
		if got, want := v.Addr().Interface(), st.field(&c); got != want {
			t.Errorf("%s: path %s is not the field the setting sets", st.key, st.name)
		}
	}
}

// TestSourceKeepsNoSecret checks that what the loaders keep in a config
// shows no anonymize_key however it is printed, and still tells when the
// key was changed in code.
func TestSourceKeepsNoSecret(t *testing.T) {
	const key = "env-key-that-must-not-leak"
	t.Setenv(envPrefix+"ANONYMIZE_KEY", key)
	t.Setenv(envPrefix+"ANONYMIZE_ACTORS", "true")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{string(b)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		texts = append(texts, fmt.Sprintf(verb, c.Source))
	}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		texts = append(texts, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c))
	}
	for _, s := range texts {
		if strings.Contains(s, key) || strings.Contains(s, fmt.Sprintf("%x", key)) {
			t.Fatalf("key shown in %q", s)
		}
	}

	c.Privacy.AnonymizeActors = false
	want := "REFLOW_TRACING_ANONYMIZE_KEY has no effect: nothing is anonymized (REFLOW_TRACING_ANONYMIZE_ACTORS, REFLOW_TRACING_ANONYMIZE_ATTRIBUTES)"
	if !slices.Contains(c.Warnings(), want) {
		t.Fatalf("Warnings() = %q\nwant it to hold %q", c.Warnings(), want)
	}
	c.Privacy.AnonymizeKey = "another key"
	want = "Privacy.AnonymizeKey has no effect: nothing is anonymized (REFLOW_TRACING_ANONYMIZE_ACTORS, REFLOW_TRACING_ANONYMIZE_ATTRIBUTES)"
	if !slices.Contains(c.Warnings(), want) {
		t.Fatalf("after a change in code, Warnings() = %q\nwant it to hold %q", c.Warnings(), want)
	}
}

// otherSource is the ConfigSource of a loader of another format.
type otherSource struct{}

func (otherSource) Setting(path string, _ any) (name, loc, written string, set bool) {
	if path == "QueueSize" {
		return "queue.size", "app.yaml:3", "50", true
	}
	return "", "", "", false
}

func (otherSource) Warnings() []string { return []string{"app.yaml: a warning"} }

// TestApplyEnvOverAnotherSource checks that the environment applied over
// a config another loader made keeps that loader's names for the fields
// the environment does not set.
func TestApplyEnvOverAnotherSource(t *testing.T) {
	base := tracing.DefaultConfig()
	base.QueueSize = 50
	base.Source = otherSource{}
	c, err := applyEnv(base, envList(map[string]string{envPrefix + "BATCH_SIZE": "100", envPrefix + "BATCH_SIZ": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	want := "tracing: invalid config: app.yaml:3: queue.size = 50: must be at least REFLOW_TRACING_BATCH_SIZE (100)"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v\nwant %s", err, want)
	}
	ws := []string{"app.yaml: a warning", "unknown environment variable REFLOW_TRACING_BATCH_SIZ: did you mean REFLOW_TRACING_BATCH_SIZE?"}
	if got := c.Warnings(); !reflect.DeepEqual(got, ws) {
		t.Fatalf("Warnings() = %q\nwant %q", got, ws)
	}
}
