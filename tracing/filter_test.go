package tracing

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileGlobRejectsMalformedPattern(t *testing.T) {
	_, err := compileGlobs("Filters.ActorPatterns", []string{"ok_*", "[a-"})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	if got := err.Error(); !strings.Contains(got, "Filters.ActorPatterns[1]") || !strings.Contains(got, `"[a-"`) {
		t.Fatalf("err = %q, want the field and the pattern", got)
	}
}

func TestKindMask(t *testing.T) {
	m := maskOf([]EventKind{KindDataFlow, KindActorFailed, 0, 200})
	for k := EventKind(0); k < 40; k++ {
		want := k == KindDataFlow || k == KindActorFailed
		if got := m.has(k); got != want {
			t.Errorf("has(%v) = %v, want %v", k, got, want)
		}
	}
	if kindMask(0).has(KindDataFlow) {
		t.Error("empty mask has DataFlow")
	}
}

func TestFilterSemantics(t *testing.T) {
	sensor := messageSent("sensor_1", "out", "T", 1)
	debugSensor := messageSent("debug_sensor", "out", "T", 1)
	proc := actorCreated("processor_7")
	flow := dataFlow("sensor_2", "out", "processor_7", "in", "T", 1)
	toDebug := dataFlow("sensor_1", "out", "debug_x", "in", "T", 1)
	notToDebug := func(ev *TraceEvent) bool { return !strings.HasPrefix(ev.Type.ToActor, "debug_") }
	noActor := networkEvent("")
	badKind := TraceEvent{ActorID: "sensor_1"}

	tests := []struct {
		name  string
		cfg   FilterConfig
		preds []func(*TraceEvent) bool
		ev    TraceEvent
		want  bool
	}{
		{"empty filter keeps all", FilterConfig{}, nil, sensor, true},
		{"empty filter keeps empty actor", FilterConfig{}, nil, noActor, true},
		{"include matches", FilterConfig{ActorPatterns: []string{"sensor_*", "processor_*"}}, nil, proc, true},
		{"include misses", FilterConfig{ActorPatterns: []string{"sensor_*"}}, nil, proc, false},
		{"include misses empty actor", FilterConfig{ActorPatterns: []string{"sensor_*"}}, nil, noActor, false},
		{"include matches source of flow", FilterConfig{ActorPatterns: []string{"sensor_*"}}, nil, flow, true},
		{"include ignores target of flow", FilterConfig{ActorPatterns: []string{"processor_*"}}, nil, flow, false},
		{"exclude matches", FilterConfig{ExcludeActors: []string{"debug_*"}}, nil, debugSensor, false},
		{"exclude misses", FilterConfig{ExcludeActors: []string{"debug_*"}}, nil, sensor, true},
		{"exclude ignores target of flow", FilterConfig{ExcludeActors: []string{"debug_*"}}, nil, toDebug, true},
		{"predicate on target of flow", FilterConfig{}, []func(*TraceEvent) bool{notToDebug}, toDebug, false},
		{"exclude wins over include", FilterConfig{ActorPatterns: []string{"*sensor*"}, ExcludeActors: []string{"debug_*"}}, nil, debugSensor, false},
		{"kind kept", FilterConfig{EventTypes: []EventKind{KindActorCreated, KindDataFlow}}, nil, flow, true},
		{"kind dropped", FilterConfig{EventTypes: []EventKind{KindActorCreated, KindDataFlow}}, nil, sensor, false},
		{"invalid kind dropped when kinds set", FilterConfig{EventTypes: []EventKind{KindActorCreated}}, nil, badKind, false},
		{"invalid kind kept without kinds", FilterConfig{}, nil, badKind, true},
		{"kind and actor both needed", FilterConfig{ActorPatterns: []string{"sensor_*"}, EventTypes: []EventKind{KindActorCreated}}, nil, sensor, false},
		{"predicate true", FilterConfig{}, []func(*TraceEvent) bool{func(*TraceEvent) bool { return true }}, sensor, true},
		{"predicate false", FilterConfig{}, []func(*TraceEvent) bool{func(*TraceEvent) bool { return false }}, sensor, false},
		{"all predicates needed", FilterConfig{}, []func(*TraceEvent) bool{
			func(*TraceEvent) bool { return true },
			func(ev *TraceEvent) bool { return ev.Data.Port != "out" },
		}, sensor, false},
		{"predicate after config filter", FilterConfig{ExcludeActors: []string{"sensor_*"}}, []func(*TraceEvent) bool{
			func(*TraceEvent) bool { panic("predicate called for an excluded event") },
		}, sensor, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := newEventFilter(&tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			f.preds = tt.preds
			ev := tt.ev
			if got := f.allows(&ev); got != tt.want {
				t.Fatalf("allows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewEventFilterErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   FilterConfig
		field string
	}{
		{"include", FilterConfig{ActorPatterns: []string{"["}}, "Filters.ActorPatterns[0]"},
		{"exclude", FilterConfig{ExcludeActors: []string{"a", "b[", "c"}}, "Filters.ExcludeActors[1]"},
		{"kind", FilterConfig{EventTypes: []EventKind{KindDataFlow, 77}}, "Filters.EventTypes[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newEventFilter(&tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
}
