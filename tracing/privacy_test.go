package tracing

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/internal/anon"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

const testAnonKey = "k3y-that-must-never-leak"

var anonForm = regexp.MustCompile(`^anon_[0-9a-f]{16}$`)

func mustRedactor(t *testing.T, c PrivacyConfig) *redactor {
	t.Helper()
	r, err := newRedactor(&c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func contentEvents() (TraceEvent, TraceEvent) {
	msg := messageSent("a", "out", "T", 3)
	msg.Data.Message.SerializedData = []byte{1, 2, 3}
	st := stateChanged("a", StateDiff{Before: []byte("old"), After: []byte("new"), DiffType: DiffIncremental})
	return msg, st
}

func TestContentDroppedByDefault(t *testing.T) {
	r := mustRedactor(t, PrivacyConfig{})
	if !r.active() {
		t.Fatal("default redactor is inactive: content would leave the process")
	}
	msg, st := contentEvents()
	r.apply(&msg)
	r.apply(&st)
	if msg.Data.Message.SerializedData != nil {
		t.Error("SerializedData kept")
	}
	if !msg.Data.HasMessage || msg.Data.Message.MessageType != "T" || msg.Data.Message.SizeBytes != 3 {
		t.Errorf("message metadata changed: %+v", msg.Data.Message)
	}
	if st.Data.StateDiff.Before != nil || st.Data.StateDiff.After != nil {
		t.Error("state diff bytes kept")
	}
	if st.Data.StateDiff.DiffType != DiffIncremental {
		t.Errorf("DiffType = %v, want it kept", st.Data.StateDiff.DiffType)
	}
}

func TestContentKeptWhenCaptureEnabled(t *testing.T) {
	r := mustRedactor(t, PrivacyConfig{CaptureContent: true})
	if r.active() {
		t.Fatal("redactor with nothing to do is active")
	}
	msg, st := contentEvents()
	r.apply(&msg)
	r.apply(&st)
	if string(msg.Data.Message.SerializedData) != "\x01\x02\x03" {
		t.Error("SerializedData dropped")
	}
	if string(st.Data.StateDiff.Before) != "old" || string(st.Data.StateDiff.After) != "new" {
		t.Error("state diff dropped")
	}
}

func attrKeys(as *attr.Set) []string {
	var keys []string
	for i := range as.Len() {
		keys = append(keys, as.At(i).Key)
	}
	return keys
}

func TestDropAttributes(t *testing.T) {
	tests := []struct {
		name string
		drop []string
		keys []string
		want []string
	}{
		{"nothing matches", []string{"secret_*"}, []string{"a", "b"}, []string{"a", "b"}},
		{"exact", []string{"token"}, []string{"a", "token", "b"}, []string{"a", "b"}},
		{"glob keeps order", []string{"secret_*"}, []string{"secret_1", "a", "secret_2", "b"}, []string{"a", "b"}},
		{"overflow", []string{"*_pii"}, []string{"a", "b_pii", "c", "d", "e_pii", "f", "g_pii"}, []string{"a", "c", "d", "f"}},
		{"all", []string{"*"}, []string{"a", "b"}, nil},
		{"several patterns", []string{"x", "y*"}, []string{"x", "yy", "z"}, []string{"z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRedactor(t, PrivacyConfig{DropAttributes: tt.drop, CaptureContent: true})
			ev := networkEvent("a")
			for i, k := range tt.keys {
				ev.Data.CustomAttributes.Set(attr.Int(k, i))
			}
			r.apply(&ev)
			got := attrKeys(&ev.Data.CustomAttributes)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("keys = %v, want %v", got, tt.want)
			}
			for i := range ev.Data.CustomAttributes.Len() {
				a := ev.Data.CustomAttributes.At(i)
				if want := indexOf(tt.keys, a.Key); a.Value.Int() != int64(want) {
					t.Errorf("%s = %v, want %d", a.Key, a.Value, want)
				}
			}
		})
	}
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

func TestDropAttributesDoesNotTouchCopies(t *testing.T) {
	r := mustRedactor(t, PrivacyConfig{DropAttributes: []string{"drop*"}})
	orig := networkEvent("a", attr.Int("a", 1), attr.Int("b", 2), attr.Int("c", 3), attr.Int("d", 4), attr.Int("drop_me", 5), attr.Int("e", 6))
	ev := orig
	r.apply(&ev)
	if got := strings.Join(attrKeys(&orig.Data.CustomAttributes), ","); got != "a,b,c,d,drop_me,e" {
		t.Fatalf("original changed: %s", got)
	}
	if got := strings.Join(attrKeys(&ev.Data.CustomAttributes), ","); got != "a,b,c,d,e" {
		t.Fatalf("redacted = %s", got)
	}
}

func TestAnonymizeActors(t *testing.T) {
	r := mustRedactor(t, PrivacyConfig{AnonymizeActors: true, AnonymizeKey: testAnonKey})
	ev := dataFlow("sensor_1", "out", "processor_2", "in", "T", 1)
	r.apply(&ev)
	if !anonForm.MatchString(ev.ActorID) || !anonForm.MatchString(ev.Type.ToActor) {
		t.Fatalf("actors = %q, %q", ev.ActorID, ev.Type.ToActor)
	}
	if ev.ActorID == ev.Type.ToActor {
		t.Fatal("different actors got the same hash")
	}
	if ev.Type.ToPort != "in" || ev.Data.Port != "out" {
		t.Fatal("ports changed")
	}

	// Stable within the redactor, across redactors with the same key, and
	// the receiving side hashes like the sending side.
	again := mustRedactor(t, PrivacyConfig{AnonymizeActors: true, AnonymizeKey: testAnonKey})
	ev2 := actorCreated("processor_2")
	again.apply(&ev2)
	if ev2.ActorID != ev.Type.ToActor {
		t.Fatalf("hash not stable: %q vs %q", ev2.ActorID, ev.Type.ToActor)
	}
	ev3 := actorCreated("sensor_1")
	r.apply(&ev3)
	if ev3.ActorID != ev.ActorID {
		t.Fatal("hash not stable within a redactor")
	}

	// A different key gives a different hash.
	other := mustRedactor(t, PrivacyConfig{AnonymizeActors: true, AnonymizeKey: "another key"})
	ev4 := actorCreated("sensor_1")
	other.apply(&ev4)
	if ev4.ActorID == ev.ActorID {
		t.Fatal("different keys give the same hash")
	}

	// The empty actor stays empty; ToActor of other kinds is left alone.
	ev5 := networkEvent("")
	ev5.Type.ToActor = "x"
	r.apply(&ev5)
	if ev5.ActorID != "" || ev5.Type.ToActor != "x" {
		t.Fatalf("ActorID = %q, ToActor = %q", ev5.ActorID, ev5.Type.ToActor)
	}
}

func TestAnonymizeAttributes(t *testing.T) {
	r := mustRedactor(t, PrivacyConfig{AnonymizeAttributes: []string{"user_*", "ip"}, AnonymizeKey: testAnonKey})
	ev := networkEvent("actor", attr.String("user_name", "alice"), attr.Int("user_id", 42), attr.String("ip", "10.1.2.3"), attr.String("region", "eu"))
	r.apply(&ev)
	as := &ev.Data.CustomAttributes
	for _, k := range []string{"user_name", "user_id", "ip"} {
		v, ok := as.Get(k)
		if !ok || v.Kind() != attr.KindString || !anonForm.MatchString(v.Str()) {
			t.Errorf("%s = %v, want anonymized", k, v)
		}
	}
	if v, _ := as.Get("region"); v.Str() != "eu" {
		t.Errorf("region = %v, want unchanged", v)
	}
	if ev.ActorID != "actor" {
		t.Errorf("ActorID = %q, want unchanged", ev.ActorID)
	}
	if got := strings.Join(attrKeys(as), ","); got != "user_name,user_id,ip,region" {
		t.Errorf("order = %s", got)
	}
	// The same value hashes as an actor id would under the same key.
	name, _ := as.Get("user_name")
	if want := anon.New(anonymizedPrefix, []byte(testAnonKey)).Hash("alice"); name.Str() != want {
		t.Errorf("user_name = %q, want %q", name.Str(), want)
	}
}

func TestRedactorOrderUserLast(t *testing.T) {
	r := mustRedactor(t, PrivacyConfig{AnonymizeActors: true, AnonymizeKey: testAnonKey, DropAttributes: []string{"secret"}})
	var seen TraceEvent
	r.user = append(r.user, func(ev *TraceEvent) {
		seen = *ev
		ev.Data.CustomAttributes.Set(attr.String("redacted_by", "user"))
	})
	ev := messageSent("sensor", "out", "T", 1)
	ev.Data.Message.SerializedData = []byte("payload")
	ev.Data.CustomAttributes.Set(attr.String("secret", "s"))
	r.apply(&ev)
	if !anonForm.MatchString(seen.ActorID) {
		t.Errorf("user redactor saw actor %q, want anonymized", seen.ActorID)
	}
	if seen.Data.Message.SerializedData != nil {
		t.Error("user redactor saw content")
	}
	if _, ok := seen.Data.CustomAttributes.Get("secret"); ok {
		t.Error("user redactor saw a dropped attribute")
	}
	if v, _ := ev.Data.CustomAttributes.Get("redacted_by"); v.Str() != "user" {
		t.Error("user redactor's change lost")
	}
}

func TestAnonymizeKeyRequired(t *testing.T) {
	tests := []struct {
		name string
		cfg  PrivacyConfig
	}{
		{"actors", PrivacyConfig{AnonymizeActors: true}},
		{"attributes", PrivacyConfig{AnonymizeAttributes: []string{"x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newRedactor(&tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "Privacy.AnonymizeKey") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestAnonymizeKeyNeverShown(t *testing.T) {
	c := DefaultConfig()
	c.Privacy = PrivacyConfig{AnonymizeActors: true, AnonymizeKey: testAnonKey, DropAttributes: []string{"["}}
	c.BatchSize = -1
	var texts []string
	if err := c.Validate(); err != nil {
		texts = append(texts, err.Error())
	} else {
		t.Fatal("Validate accepted a bad config")
	}
	if _, err := newRedactor(&c.Privacy); err != nil {
		texts = append(texts, err.Error())
	} else {
		t.Fatal("newRedactor accepted a bad pattern")
	}
	texts = append(texts,
		fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.Privacy),
		fmt.Sprintf("%+v", &c), fmt.Sprintf("%s %q", c.Privacy, c.Privacy),
	)
	// Verbs no one should use on a config, which fmt still accepts (vet
	// checks only constant formats).
	for _, verb := range []string{"%d", "%x", "%X", "%o"} {
		texts = append(texts, fmt.Sprintf(verb, c), fmt.Sprintf(verb, c.Privacy))
	}
	hexKey := fmt.Sprintf("%x", testAnonKey)
	for _, s := range texts {
		if strings.Contains(s, testAnonKey) || strings.Contains(strings.ToLower(s), hexKey) {
			t.Errorf("key shown in %q", s)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", c), "AnonymizeKey:[redacted]") {
		t.Errorf("%%+v does not say the key is set: %+v", c)
	}
}

func TestPrivacyConfigJSONHidesKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Privacy.AnonymizeActors = true
	cfg.Privacy.AnonymizeKey = "s3cr3t-anon-key"
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cr3t-anon-key") || !strings.Contains(string(b), `"AnonymizeKey":"[redacted]"`) {
		t.Fatalf("JSON of the config shows the key or lost the field: %s", b)
	}
}
