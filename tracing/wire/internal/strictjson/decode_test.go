package strictjson

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// errTest is what the errors of the test decoders wrap.
var errTest = errors.New("test: malformed")

// newDecoder returns a Decoder of s whose errors wrap errTest.
func newDecoder(s string) *Decoder {
	d := new(Decoder)
	d.Init([]byte(s), errTest)
	return d
}

// wantErr fails unless err wraps errTest and reads exactly want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if !errors.Is(err, errTest) || err.Error() != want {
		t.Fatalf("error %q, want %q wrapping errTest", err, want)
	}
}

func TestInitDefaultError(t *testing.T) {
	var d Decoder
	d.Init([]byte("x"), nil)
	_, err := d.Str()
	if !errors.Is(err, ErrMalformed) || err.Error() != "strictjson: malformed JSON: message: want a string, got 'x' at offset 0" {
		t.Fatalf("error %q", err)
	}
}

func TestErrorPath(t *testing.T) {
	d := newDecoder("")
	wantErr(t, d.Errorf("bad %d", 1), "test: malformed: message: bad 1")
	d.Push("event")
	d.Push("data")
	d.PushIndex(2)
	d.Push("port")
	wantErr(t, d.Errorf("bad"), "test: malformed: event.data[2].port: bad")
	d.Pop()
	d.Pop()
	wantErr(t, d.Want("an object"), "test: malformed: event.data: want an object, got end of input")
	// Deeper than the inline path buffer.
	for i := range 20 {
		d.PushIndex(i)
	}
	if err := d.Errorf("deep"); !strings.HasSuffix(err.Error(), "event.data[0][1][2][3][4][5][6][7][8][9][10][11][12][13][14][15][16][17][18][19]: deep") {
		t.Fatalf("error %q", err)
	}
}

func TestWantDescribesValue(t *testing.T) {
	for in, got := range map[string]string{
		`"s"`: "a string", `{}`: "an object", `[]`: "an array", `true`: "a boolean", `null`: "null",
		`-1.5e3,`: "-1.5e3", `x`: "'x' at offset 0", ``: "end of input",
	} {
		wantErr(t, newDecoder(in).Want("a thing"), "test: malformed: message: want a thing, got "+got)
	}
}

func TestTop(t *testing.T) {
	d := newDecoder(" \t\r\n\"a\" \n")
	var s string
	if err := d.Top(func() (err error) { s, err = d.Str(); return err }); err != nil || s != "a" {
		t.Fatalf("got %q, %v", s, err)
	}
	d = newDecoder(`"a" "b"`)
	wantErr(t, d.Top(func() error { _, err := d.Str(); return err }), "test: malformed: message: trailing characters at offset 4")
	d = newDecoder(`1`)
	wantErr(t, d.Top(func() error { _, err := d.Str(); return err }), "test: malformed: message: want a string, got 1")
}

func TestStrings(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{`"plain"`, "plain", ""},
		{`""`, "", ""},
		{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t", ""},
		{`"\u00e9\u2028"`, "é\u2028", ""},
		{`"\ud83d\ude00"`, "😀", ""},
		{`"héllo ✓"`, "héllo ✓", ""},
		{`"a` + "\x01" + `"`, "", "control character in a string at offset 2"},
		{`"a\u0001"`, "a\x01", ""},
		{`"a` + "\xff" + `"`, "", "invalid UTF-8 in a string at offset 2"},
		{`"\x"`, "", "invalid escape at offset 2"},
		{`"\u12"`, "", `invalid \u escape at offset 3`},
		{`"\ud800"`, "", `lone surrogate in a \u escape at offset 7`},
		{`"\ud800\u0041"`, "", `lone surrogate in a \u escape at offset 13`},
		{`"\udc00\udc00"`, "", `lone surrogate in a \u escape at offset 7`},
		{`"abc`, "", "unterminated string"},
		{`"ab\`, "", "unterminated string"},
		{`"ab\n`, "", "unterminated string"},
		{`x`, "", "want a string, got 'x' at offset 0"},
	}
	for _, tc := range tests {
		got, err := newDecoder(tc.in).Str()
		if tc.err != "" {
			wantErr(t, err, "test: malformed: message: "+tc.err)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestRawStringAliases(t *testing.T) {
	d := newDecoder(`"abc" "x\ny"`)
	b, err := d.RawString()
	if err != nil || string(b) != "abc" || &b[0] != &d.Input()[1] {
		t.Fatalf("unescaped string %q, %v: want it to alias the input", b, err)
	}
	if d.Offset() != 5 {
		t.Fatalf("offset %d: RawString must leave the whitespace", d.Offset())
	}
	d.SkipSpace()
	b, err = d.RawString()
	if err != nil || string(b) != "x\ny" || &b[0] != &d.scratch[0] {
		t.Fatalf("escaped string %q, %v: want it in the scratch buffer", b, err)
	}
}

func TestOptional(t *testing.T) {
	d := newDecoder(`[null, "a", null, "6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60", nullx]`)
	if err := d.OpenArray("an array"); err != nil {
		t.Fatal(err)
	}
	next := func(first bool) {
		t.Helper()
		if more, err := d.NextElem(first); err != nil || !more {
			t.Fatalf("NextElem = %v, %v", more, err)
		}
	}
	next(true)
	if s, err := d.OptStr(); s != "" || err != nil {
		t.Fatalf("null string = %q, %v", s, err)
	}
	next(false)
	if s, err := d.OptStr(); s != "a" || err != nil {
		t.Fatalf("string = %q, %v", s, err)
	}
	next(false)
	if u, err := d.OptUUID(); u != [16]byte{} || err != nil {
		t.Fatalf("null UUID = %x, %v", u, err)
	}
	next(false)
	if u, err := d.OptUUID(); u[0] != 0x6f || u[15] != 0x60 || err != nil {
		t.Fatalf("UUID = %x, %v", u, err)
	}
	next(false)
	if !d.Null() {
		t.Fatal("Null must consume the literal null")
	}
	if d.Literal("null") || !d.Literal("x") {
		t.Fatal("Literal must consume only what is next")
	}
}

func TestUUID(t *testing.T) {
	u, err := newDecoder(`"6F1C2A4E-1B7D-4C39-8F1E-2A9D3C4B5E60"`).UUID()
	if err != nil || u[0] != 0x6f {
		t.Fatalf("upper case: %x, %v", u, err)
	}
	for _, in := range []string{`"6f1c2a4e1b7d4c398f1e2a9d3c4b5e60"`, `"{6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60}"`, `"urn:uuid:6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"`} {
		_, err := newDecoder(in).UUID()
		wantErr(t, err, "test: malformed: message: want a hyphenated UUID, got "+strconv.Quote(in[1:len(in)-1]))
	}
	_, err = newDecoder(`null`).UUID()
	wantErr(t, err, "test: malformed: message: want a string, got null")
}

func TestNumbers(t *testing.T) {
	uints := []struct {
		in   string
		max  uint64
		want uint64
		err  string
	}{
		{"0", 10, 0, ""},
		{"18446744073709551615", math.MaxUint64, math.MaxUint64, ""},
		{"18446744073709551616", math.MaxUint64, 0, "integer 18446744073709551616 out of range 0..18446744073709551615"},
		{"11", 10, 0, "integer 11 out of range 0..10"},
		{"-1", 10, 0, "want a non-negative integer, got -1"},
		{"-0", 10, 0, "want a non-negative integer, got -0"},
		{"1.0", 10, 0, "want a non-negative integer, got 1.0"},
		{"1e1", 10, 0, "want a non-negative integer, got 1e1"},
		{`"1"`, 10, 0, "want a non-negative integer, got a string"},
		{"1.", 10, 0, "invalid number at offset 0"},
	}
	for _, tc := range uints {
		got, err := newDecoder(tc.in).Uint(tc.max)
		if tc.err != "" {
			wantErr(t, err, "test: malformed: message: "+tc.err)
		} else if err != nil || got != tc.want {
			t.Errorf("Uint(%s) = %d, %v", tc.in, got, err)
		}
	}
	floats := []struct {
		in   string
		want float64
		err  string
	}{
		{"0", 0, ""},
		{"-2.5e-3", -2.5e-3, ""},
		{"7", 7, ""},
		{"1E+2", 100, ""},
		{"1e999", 0, "number 1e999 out of range"},
		{"NaN", 0, "want a number, got 'N' at offset 0"},
		{"+1", 0, "want a number, got '+' at offset 0"},
		{".5", 0, "want a number, got '.' at offset 0"},
		{"-", 0, "want a number, got -"},
		{"1.e1", 0, "invalid number at offset 0"},
		{"1e", 0, "invalid number at offset 0"},
	}
	for _, tc := range floats {
		got, err := newDecoder(tc.in).Float()
		if tc.err != "" {
			wantErr(t, err, "test: malformed: message: "+tc.err)
		} else if err != nil || got != tc.want {
			t.Errorf("Float(%s) = %v, %v", tc.in, got, err)
		}
	}
	// A leading zero ends the number: what follows is left to the caller.
	d := newDecoder("01")
	if text, integer, err := d.Number(); string(text) != "0" || !integer || err != nil || d.Offset() != 1 {
		t.Fatalf("Number(01) = %q, %v, %v at %d", text, integer, err, d.Offset())
	}
	for in, want := range map[string]bool{"true": true, " false": false} {
		d := newDecoder(in)
		d.SkipSpace()
		if got, err := d.Bool(); got != want || err != nil {
			t.Errorf("Bool(%s) = %v, %v", in, got, err)
		}
	}
	_, err := newDecoder("yes").Bool()
	wantErr(t, err, "test: malformed: message: want a boolean, got 'y' at offset 0")
}

func TestBytes(t *testing.T) {
	for in, want := range map[string][]byte{
		"[]":                   {},
		"[0, 1,255 ,\n10]":     {0, 1, 255, 10},
		"[100,99]":             {100, 99},
		"[0000]":               nil,
		"[01]":                 nil,
		"[256]":                nil,
		"[1.0]":                nil,
		"[1e0]":                nil,
		"[-1]":                 nil,
		`"aGk="`:               nil,
		"[1,":                  nil,
		"[2550]":               nil,
		"[" + "7" + "]":        {7},
		"[" + "255" + "] tail": {255},
	} {
		got, err := newDecoder(in).Bytes()
		if want == nil {
			if err == nil || !errors.Is(err, errTest) {
				t.Errorf("%s: got %v, %v; want an error", in, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, want) || got == nil {
			t.Errorf("%s: got %#v, %v; want %#v", in, got, err, want)
		}
	}
	_, err := newDecoder("[1,256]").Bytes()
	wantErr(t, err, "test: malformed: [1]: integer 256 out of range 0..255")
	_, err = newDecoder("null").Bytes()
	wantErr(t, err, "test: malformed: message: want an array of integers 0..255, got null")
}

func TestSkip(t *testing.T) {
	ok := `{"a":[1,-2.5e3,true,false,null,"s\n",{}],"b":{"c":[]}} 1`
	d := newDecoder(ok)
	if err := d.Skip(); err != nil || string(d.Input()[d.Offset():]) != "1" {
		t.Fatalf("Skip: %v, left %q", err, d.Input()[d.Offset():])
	}
	for in, want := range map[string]string{
		`[1e999]`:            "number 1e999 out of range",
		`{"a":"` + "\xff\"}": "invalid UTF-8 in a string at offset 6",
		`{"a" 1}`:            "want ':' at offset 5",
		`{"a":1 "b":2}`:      "want ',' or '}' at offset 7",
		`{1:2}`:              "want an object key at offset 1",
		`[1 2]`:              "want ',' or ']' at offset 3",
		`nul`:                "want a JSON value, got null",
		`x`:                  "want a JSON value, got 'x' at offset 0",
	} {
		wantErr(t, newDecoder(in).Skip(), "test: malformed: message: "+want)
	}
}

func TestNesting(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	if err := newDecoder(nest(127)).Skip(); err != nil {
		t.Fatalf("127 levels: %v", err)
	}
	wantErr(t, newDecoder(nest(128)).Skip(), "test: malformed: message: nesting deeper than 127 levels")
	obj := strings.Repeat(`{"a":`, 128) + "1" + strings.Repeat("}", 128)
	wantErr(t, newDecoder(obj).Skip(), "test: malformed: message: nesting deeper than 127 levels")
	// Closing a level frees it.
	if err := newDecoder("[" + strings.Repeat(nest(126)+",", 10) + "[]]").Skip(); err != nil {
		t.Fatalf("siblings: %v", err)
	}
}

func TestValue(t *testing.T) {
	tests := []struct {
		in   string
		want attr.Value
	}{
		{`"s"`, attr.StringValue("s")},
		{`true`, attr.BoolValue(true)},
		{`null`, attr.Value{}},
		{`-5`, attr.IntValue(-5)},
		{`9223372036854775807`, attr.IntValue(math.MaxInt64)},
		{`9223372036854775808`, attr.UintValue(math.MaxInt64 + 1)},
		{`-9223372036854775809`, attr.FloatValue(-9223372036854775809)},
		{`18446744073709551616`, attr.FloatValue(18446744073709551616)},
		{`-0`, attr.FloatValue(math.Copysign(0, -1))},
		{`1.5`, attr.FloatValue(1.5)},
		{`[]`, attr.ArrayValue()},
		{`[1,"a",[null]]`, attr.ArrayValue(attr.IntValue(1), attr.StringValue("a"), attr.ArrayValue(attr.Value{}))},
		{`{}`, attr.ObjectValue()},
		{`{"a":1,"b":2,"a":3}`, attr.ObjectValue(attr.Int("a", 3), attr.Int("b", 2))},
	}
	for _, tc := range tests {
		got, err := newDecoder(tc.in).Value()
		if err != nil || !got.Equal(tc.want) || got.Kind() != tc.want.Kind() {
			t.Errorf("%s: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if tc.want.Kind() == attr.KindFloat && math.Signbit(got.Float()) != math.Signbit(tc.want.Float()) {
			t.Errorf("%s: sign lost", tc.in)
		}
	}
	_, err := newDecoder(`{"a":[1,{"b":1e999}]}`).Value()
	wantErr(t, err, "test: malformed: a[1].b: number 1e999 out of range")
}

// TestRepeatedKeys checks that a repeated key keeps its first position and
// its last value, in small objects and in those indexed by a map.
func TestRepeatedKeys(t *testing.T) {
	for _, n := range []int{3, smallObject + 5} {
		var b strings.Builder
		b.WriteString(`{"k0":"first"`)
		for i := 1; i < n; i++ {
			b.WriteString(`,"k` + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + `":1`)
		}
		b.WriteString(`,"k0":"last"}`)
		var as attr.Set
		if err := newDecoder(b.String()).Attributes(&as); err != nil {
			t.Fatal(err)
		}
		kvs := as.Slice()
		if len(kvs) != n || kvs[0].Key != "k0" || kvs[0].Value.Str() != "last" {
			t.Fatalf("%d members: got %d, first %v", n, len(kvs), kvs[0])
		}
		v, err := newDecoder(b.String()).Value()
		if err != nil || len(v.Object()) != n || v.Object()[0].Value.Str() != "last" {
			t.Fatalf("%d members as a Value: %v, %v", n, v, err)
		}
	}
}

func TestAttributes(t *testing.T) {
	d := newDecoder(`[{"a":{"b":[1]},"c":"x"}, {"d":true}, null]`)
	if err := d.OpenArray("an array"); err != nil {
		t.Fatal(err)
	}
	var as attr.Set
	for i, want := range []string{"a c", "d"} {
		if more, err := d.NextElem(i == 0); !more || err != nil {
			t.Fatal(more, err)
		}
		as.Add(attr.Int("stale", 1))
		if err := d.Attributes(&as); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, kv := range as.Slice() {
			keys = append(keys, kv.Key)
		}
		if strings.Join(keys, " ") != want {
			t.Fatalf("keys %v, want %s", keys, want)
		}
	}
	if more, err := d.NextElem(false); !more || err != nil {
		t.Fatal(more, err)
	}
	wantErr(t, d.Attributes(&as), "test: malformed: message: want an object, got null")
}

func TestStruct(t *testing.T) {
	names := []string{"a", "b", "c"}
	read := func(in string) (map[string]int, error) {
		got := map[string]int{}
		var seen uint32
		d := newDecoder(in)
		err := d.Struct("an ABC object", names, 0b011, func(i int) error {
			seen |= 1 << i
			v, err := d.Uint(100)
			got[names[i]] = int(v)
			return err
		})
		if err == nil && d.LastSeen() != seen {
			t.Errorf("%s: LastSeen = %b, want %b", in, d.LastSeen(), seen)
		}
		return got, err
	}
	if got, err := read(`{"b":2,"x":{"y":[1]},"a":1}`); err != nil || !reflect.DeepEqual(got, map[string]int{"a": 1, "b": 2}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := read(`{"c":3,"b":2,"a":1}`); err != nil || len(got) != 3 {
		t.Fatalf("got %v, %v", got, err)
	}
	_, err := read(`{"a":1}`)
	wantErr(t, err, `test: malformed: message: missing field "b"`)
	_, err = read(`{"a":1,"b":2,"a":3}`)
	wantErr(t, err, `test: malformed: message: duplicate field "a"`)
	_, err = read(`{"a":1,"b":-2}`)
	wantErr(t, err, `test: malformed: b: want a non-negative integer, got -2`)
	_, err = read(`{"a":1,"b":2,"x":[1,]}`)
	wantErr(t, err, `test: malformed: message: want a JSON value, got ']' at offset 20`)
	_, err = read(`["a"]`)
	wantErr(t, err, `test: malformed: message: want an ABC object, got an array`)
	// An escaped key names its field.
	if got, err := read(`{"\u0061":1,"b":2}`); err != nil || got["a"] != 1 {
		t.Fatalf("escaped key: %v, %v", got, err)
	}
}

func TestVariant(t *testing.T) {
	read := func(in string) (string, error) {
		var got string
		d := newDecoder(in)
		err := d.Variant("a shape", func(tag []byte) (bool, error) {
			switch string(tag) {
			case "Unit":
				got = "Unit"
				return true, nil
			case "Bad":
				return false, errors.New("bad tag")
			}
			return false, nil
		}, func(tag []byte) error {
			if string(tag) != "Body" {
				return d.UnknownVariant("shape", tag)
			}
			d.Push("Body")
			s, err := d.Str()
			d.Pop()
			got = "Body " + s
			return err
		})
		return got, err
	}
	for in, want := range map[string]string{
		`"Unit"`:              "Unit",
		`{"Unit":null}`:       "Unit",
		`{"Body":"x"}`:        "Body x",
		`{"Bo\u0064y" : "x"}`: "Body x",
	} {
		if got, err := read(in); got != want || err != nil {
			t.Errorf("%s: got %q, %v", in, got, err)
		}
	}
	for in, want := range map[string]string{
		`"Body"`:                   `test: malformed: message: a shape variant "Body" needs content or is unknown`,
		`{"Unit":1}`:               `test: malformed: message: a shape variant "Unit" takes no content`,
		`{"Other":1}`:              `test: malformed: message: unknown shape variant "Other"`,
		`{}`:                       `test: malformed: message: want a shape, got an empty object`,
		`{"Body":"x","Unit":null}`: `test: malformed: message: want a shape with one key, got more`,
		`{"Body":1}`:               `test: malformed: Body: want a string, got 1`,
		`1`:                        `test: malformed: message: want a shape, got 1`,
	} {
		_, err := read(in)
		wantErr(t, err, want)
	}
	if _, err := read(`"Bad"`); err == nil || err.Error() != "bad tag" {
		t.Errorf("unit's error: %v", err)
	}
}

func TestArray(t *testing.T) {
	d := newDecoder(`[1, 2, "x"]`)
	var got []uint64
	err := d.Array("an array of numbers", func() error {
		v, err := d.Uint(10)
		got = append(got, v)
		return err
	})
	wantErr(t, err, "test: malformed: [2]: want a non-negative integer, got a string")
	if !reflect.DeepEqual(got, []uint64{1, 2, 0}) {
		t.Fatalf("got %v", got)
	}
	d = newDecoder(`[]`)
	if err := d.Array("an array", func() error { t.Fatal("called for no element"); return nil }); err != nil {
		t.Fatal(err)
	}
	wantErr(t, newDecoder(`{}`).Array("an array of numbers", nil), "test: malformed: message: want an array of numbers, got an object")
}

func TestIntern(t *testing.T) {
	d := newDecoder(`["actor","actor"]`)
	var ss []string
	if err := d.Array("", func() error { s, err := d.Str(); ss = append(ss, s); return err }); err != nil {
		t.Fatal(err)
	}
	if ss[0] != "actor" || !sameString(ss[0], ss[1]) {
		t.Fatalf("strings %q not interned", ss)
	}
	long := strings.Repeat("x", maxInternedLen+1)
	if a, b := d.Intern([]byte(long)), d.Intern([]byte(long)); sameString(a, b) {
		t.Fatal("a long string was interned")
	}
	d = newDecoder("")
	d.StopInterning()
	if a, b := d.Intern([]byte("key")), d.Intern([]byte("key")); sameString(a, b) {
		t.Fatal("interned after StopInterning")
	}
}

// sameString reports whether a and b share their bytes.
func sameString(a, b string) bool {
	return len(a) > 0 && len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}
