package enum

import (
	"errors"
	"testing"
)

type color uint8

var errBad = errors.New("bad")

var colors = Names[color]{
	Type: "color", What: "colour",
	Names:   []string{"red", "green", "blue"},
	Aliases: map[string]color{"": 0, "g": 1},
	Err:     errBad,
}

func TestNames(t *testing.T) {
	for in, want := range map[string]color{"red": 0, " GREEN ": 1, "g": 1, "": 0, "Blue": 2} {
		if got, err := colors.Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	_, err := colors.Parse("pink")
	if !errors.Is(err, errBad) || err.Error() != `bad: unknown colour "pink": want red, green or blue` {
		t.Errorf("Parse(pink) error = %v", err)
	}
	if got := colors.Name(1); got != "green" {
		t.Errorf("Name(1) = %q", got)
	}
	if got := colors.Name(7); got != "color(7)" {
		t.Errorf("Name(7) = %q", got)
	}
	if b, err := colors.Marshal(2); err != nil || string(b) != "blue" {
		t.Errorf("Marshal(2) = %q, %v", b, err)
	}
	if _, err := colors.Marshal(3); !errors.Is(err, errBad) {
		t.Errorf("Marshal(3) error = %v, want errBad", err)
	}
	c := color(2)
	if err := colors.Unmarshal(&c, []byte("nope")); err == nil || c != 2 {
		t.Errorf("Unmarshal(nope) = %v, left %v; want an error and 2", err, c)
	}
	if err := colors.Unmarshal(&c, []byte("red")); err != nil || c != 0 {
		t.Errorf("Unmarshal(red) = %v, %v", err, c)
	}
}
