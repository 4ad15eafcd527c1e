package uuid

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAppendParseRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		u    [16]byte
		text string
	}{
		{"zero", [16]byte{}, "00000000-0000-0000-0000-000000000000"},
		{"protocol example", [16]byte{0x01, 0x91, 0xf3, 0xb2, 0x7c, 0x4e, 0x7a, 0x10, 0x9d, 0x2f, 0x3b, 0x5c, 0x8e, 0x0f, 0x1a, 0x22}, "0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22"},
		{"all ones", [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "ffffffff-ffff-ffff-ffff-ffffffffffff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.u); got != tt.text {
				t.Fatalf("String = %q, want %q", got, tt.text)
			}
			got, err := Parse(tt.text)
			if err != nil || got != tt.u {
				t.Fatalf("Parse(%q) = %x, %v", tt.text, got, err)
			}
			got, err = Parse(strings.ToUpper(tt.text))
			if err != nil || got != tt.u {
				t.Fatalf("Parse(upper) = %x, %v", got, err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"no hyphens", "0191f3b27c4e7a109d2f3b5c8e0f1a22"},
		{"braces", "{0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22}"},
		{"bad hex", "0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a2g"},
		{"hyphen moved", "0191f3b27-c4e-7a10-9d2f-3b5c8e0f1a22"},
		{"too long", "0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a223"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.in); !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error = %v, want ErrSyntax", tt.in, err)
			}
		})
	}
}

func TestNewV7Layout(t *testing.T) {
	const ms = 0x0191f3b27c4e
	seen := make(map[[16]byte]bool)
	for i := range 1000 {
		u := NewV7(ms*1e6 + int64(i)*997)
		if u[6]>>4 != 7 {
			t.Fatalf("version nibble = %x, want 7", u[6]>>4)
		}
		if u[8]>>6 != 2 {
			t.Fatalf("variant bits = %b, want 10", u[8]>>6)
		}
		if got := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5]); got != ms {
			t.Fatalf("timestamp = %x, want %x", got, ms)
		}
		if seen[u] {
			t.Fatalf("duplicate id %s", String(u))
		}
		seen[u] = true
	}
}

func TestPutWritesHalvesBigEndian(t *testing.T) {
	var u [16]byte
	Put(&u, 0x0011223344556677, 0x8899aabbccddeeff)
	if got, want := String(u), "00112233-4455-6677-8899-aabbccddeeff"; got != want {
		t.Fatalf("Put wrote %s, want %s", got, want)
	}
}

func TestNewV7TimeOrdered(t *testing.T) {
	tests := []struct {
		name string
		a, b int64
	}{
		{"next millisecond", 1000e6, 1001e6},
		{"within a millisecond", 1000e6 + 1000, 1000e6 + 500_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := NewV7(tt.a), NewV7(tt.b)
			if String(a) >= String(b) {
				t.Fatalf("%s should sort before %s", String(a), String(b))
			}
		})
	}
}

func TestNewV4Layout(t *testing.T) {
	u := NewV4()
	if u[6]>>4 != 4 || u[8]>>6 != 2 {
		t.Fatalf("bad v4 layout: %s", String(u))
	}
}

func TestNoAllocs(t *testing.T) {
	buf := make([]byte, 0, TextLen)
	text := "0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22"
	if n := testing.AllocsPerRun(100, func() {
		u := NewV7(1)
		buf = Append(buf[:0], u)
		_, _ = Parse(text)
	}); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			return
		}
		if got := String(u); !strings.EqualFold(got, s) {
			t.Fatalf("Parse(%q) then String = %q", s, got)
		}
	})
}

func BenchmarkNewV7(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NewV7(1)
	}
}
