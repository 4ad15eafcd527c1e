package strictjson

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestAppendString(t *testing.T) {
	tests := []struct {
		name, in, want string
		invalid        bool
	}{
		{"empty", "", `""`, false},
		{"plain", "abc", `"abc"`, false},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`, false},
		{"controls", "\n\r\t\b\f\x00\x1f\x7f", `"\n\r\t\b\f\u0000\u001f` + "\x7f\"", false},
		{"unicode", "héllo ✓ 😀", `"héllo ✓ 😀"`, false},
		{"line separators kept", "\u2028\u2029", "\"\u2028\u2029\"", false},
		{"html kept", "<&>", `"<&>"`, false},
		{"invalid byte", "a\xffb", "\"a\uFFFDb\"", true},
		{"truncated rune", "a\xe2\x9c", "\"a\uFFFD\uFFFD\"", true},
		{"surrogate half", "\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\"", true},
		{"two invalid bytes, one count", "\xff-\xfe", "\"\uFFFD-\uFFFD\"", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n uint64
			got := AppendString([]byte("x"), tc.in, &n)
			if string(got) != "x"+tc.want {
				t.Fatalf("got %s, want x%s", got, tc.want)
			}
			if (n == 1) != tc.invalid || n > 1 {
				t.Fatalf("replaced counted %d times", n)
			}
			if !json.Valid(got[1:]) {
				t.Fatalf("invalid JSON %s", got[1:])
			}
			// It reads back as the input, invalid UTF-8 replaced.
			want := tc.in
			if tc.invalid {
				want = tc.want[1 : len(tc.want)-1] // no escapes in these
			}
			back, err := newDecoder(string(got[1:])).Str()
			if err != nil || back != want {
				t.Fatalf("reads back as %q, %v; want %q", back, err, want)
			}
			if string(AppendString(nil, tc.in, nil)) != tc.want {
				t.Fatal("a nil counter changes the output")
			}
		})
	}
}

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want string
	}{
		{"zero", 0, "0.0"},
		{"negative zero", math.Copysign(0, -1), "-0.0"},
		{"integral", 1, "1.0"},
		{"negative integral", -42, "-42.0"},
		{"fraction", 1.5, "1.5"},
		{"large integral", 1e20, "100000000000000000000.0"},
		{"exponent", 1e21, "1e+21"},
		{"max", math.MaxFloat64, "1.7976931348623157e+308"},
		{"tiny", 5e-324, "5e-324"},
		{"small", 1e-7, "1e-07"},
		{"nan", math.NaN(), "0.0"},
		{"inf", math.Inf(1), "0.0"},
		{"-inf", math.Inf(-1), "0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n uint64
			got := string(AppendFloat(nil, tc.in, &n))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			finite := !math.IsNaN(tc.in) && !math.IsInf(tc.in, 0)
			if (n == 0) != finite {
				t.Fatalf("non-finite counted %d times", n)
			}
			back, err := newDecoder(got).Float()
			if err != nil || finite && (back != tc.in || math.Signbit(back) != math.Signbit(tc.in)) {
				t.Fatalf("reads back as %v, %v", back, err)
			}
			if v, err := newDecoder(got).Value(); err != nil || v.Float() != back {
				t.Fatalf("reads back as %v, %v; want a float", v, err)
			}
		})
	}
}

func TestAppendUUIDAndBytes(t *testing.T) {
	id := [16]byte{0x6f, 0x1c, 0x2a, 0x4e, 0x1b, 0x7d, 0x4c, 0x39, 0x8f, 0x1e, 0x2a, 0x9d, 0x3c, 0x4b, 0x5e, 0x60}
	if got := string(AppendUUID(nil, id)); got != `"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"` {
		t.Fatalf("UUID %s", got)
	}
	if back, err := newDecoder(string(AppendUUID(nil, id))).UUID(); err != nil || back != id {
		t.Fatalf("UUID reads back as %x, %v", back, err)
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, b := range [][]byte{nil, {}, {0}, {9, 10, 99, 100, 255}, all} {
		out := AppendBytes(nil, b)
		back, err := newDecoder(string(out)).Bytes()
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("%s reads back as %v, %v", out, back, err)
		}
	}
	if got := string(AppendBytes(nil, []byte{0, 7, 42, 255})); got != "[0,7,42,255]" {
		t.Fatalf("bytes %s", got)
	}
}

// TestAppendNoAllocs checks that the Append functions allocate nothing
// when dst has room.
func TestAppendNoAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	var n uint64
	tm := time.Date(2026, 11, 26, 10, 30, 0, 500000000, time.UTC)
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendString(dst[:0], "sensor \"x\"\n\xff", &n)
		b = AppendFloat(b, 1.25, &n)
		b = AppendFloat(b, math.NaN(), &n)
		b = AppendTime(b, tm, &n)
		b = AppendUUID(b, [16]byte{1})
		_ = AppendBytes(b, []byte{1, 2, 3})
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}
