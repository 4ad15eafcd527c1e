package glob

import (
	"errors"
	"path"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAgreesWithPathMatch(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		kind    kind
	}{
		{"exact", "sensor_1", exact},
		{"star", "*", star},
		{"prefix", "sensor_*", prefix},
		{"suffix", "*_debug", suffix},
		{"question mark", "sensor_?", general},
		{"class", "sensor_[0-9]", general},
		{"inner star", "s*r_1", general},
		{"two stars", "*sensor*", general},
		{"escaped star", `sensor_\*`, general},
		{"empty", "", exact},
	}
	names := []string{
		"", "sensor_1", "sensor_", "sensor_12", "sensor_x", "sensor_*", "Sensor_1",
		"a_debug", "_debug", "debug", "x/a_debug", "sensor_a/b", "sensor", "ssr_1", "s/r_1",
		"my_sensor_z", "*",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Compile(tt.pattern)
			if err != nil {
				t.Fatalf("Compile(%q) = %v", tt.pattern, err)
			}
			if g.kind != tt.kind {
				t.Errorf("Compile(%q).kind = %d, want %d", tt.pattern, g.kind, tt.kind)
			}
			for _, n := range names {
				want, _ := path.Match(tt.pattern, n)
				if got := g.Match(n); got != want {
					t.Errorf("Match(%q, %q) = %v, path.Match says %v", tt.pattern, n, got, want)
				}
			}
		})
	}
}

func TestCompileRejectsMalformedPattern(t *testing.T) {
	for _, p := range []string{"[a-", "[", `a\`} {
		if _, err := Compile(p); !errors.Is(err, path.ErrBadPattern) {
			t.Errorf("Compile(%q) = %v, want path.ErrBadPattern", p, err)
		}
	}
}

func TestSet(t *testing.T) {
	var set Set
	for _, p := range []string{"sensor_*", "*_debug"} {
		g, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, g)
	}
	for s, want := range map[string]bool{"sensor_1": true, "a_debug": true, "proc": false, "": false} {
		if got := set.Match(s); got != want {
			t.Errorf("Set.Match(%q) = %v, want %v", s, got, want)
		}
	}
	if (Set{}).Match("") {
		t.Error("the empty set matched")
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	var set Set
	for _, p := range []string{"a", "*", "s_*", "*_d", "s?_[0-9]"} {
		g, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, g)
	}
	if n := testing.AllocsPerRun(100, func() { set.Match("sx_7/") }); n != 0 {
		t.Fatalf("Match allocates %v times", n)
	}
}
