package strictjson

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// maxNesting is the nesting limit of the server's JSON reader for a whole
// message: 127 levels of arrays and objects are accepted, 128 are not.
const maxNesting = 127

// ErrMalformed is what the errors of a Decoder wrap when Init was given no
// error of the caller's.
var ErrMalformed = errors.New("strictjson: malformed JSON")

// pathSeg is one step of the path to the value being decoded: a field name,
// or an array index when name is "".
type pathSeg struct {
	name string
	idx  int
}

// Decoder is a strict reader of one JSON text. Its methods read the value
// at the cursor and, unless they say otherwise, the whitespace after it.
// When the value is not what they read they return an error that wraps the
// error given to Init and names the path of the offending value (see
// Push). Prepare one with Init; it is not safe for concurrent use.
type Decoder struct {
	data  []byte
	pos   int
	depth int
	path  []pathSeg
	// pathBuf holds path up to its usual depth, so that descending into
	// a message does not allocate.
	pathBuf [8]pathSeg
	scratch []byte
	// lastSeen is the set of fields the last Struct call read.
	lastSeen uint32
	// escaped tells whether the last RawString result lives in scratch.
	escaped bool
	// strs interns the short strings of a message: the actor ids, ports
	// and keys of a batch repeat.
	strs map[string]string
	// noIntern turns interning off, for inputs too small to repeat
	// strings: building the table would cost more than it saves.
	noIntern bool
	// attrs is reused to collect the members of custom attributes.
	attrs []attr.KeyValue
	// malformed is what errors wrap.
	malformed error
}

// Init prepares d, which must not have been used, to read data from its
// start; the errors it returns wrap malformed (ErrMalformed if nil). d keeps
// references into data.
func (d *Decoder) Init(data []byte, malformed error) {
	if malformed == nil {
		malformed = ErrMalformed
	}
	d.data = data
	d.malformed = malformed
}

// StopInterning makes d return strings it reads as fresh copies from now
// on, for inputs too small to repeat them (see Intern).
func (d *Decoder) StopInterning() { d.noIntern = true }

// LastSeen returns the set of fields the last Struct call that reached
// the end of its object read, bit i for its names[i].
func (d *Decoder) LastSeen() uint32 { return d.lastSeen }

// Offset returns the position of the cursor in the input.
func (d *Decoder) Offset() int { return d.pos }

// Input returns the input given to Init.
func (d *Decoder) Input() []byte { return d.data }

// maxScratchAttrs bounds the attribute scratch a decoder keeps.
const maxScratchAttrs = 256

// maxInterned bounds what the decoder interns.
const (
	maxInternedLen   = 64
	maxInternedCount = 4096
)

// Intern returns b as a string, reusing an earlier equal string of the
// same input, unless the string is long or StopInterning was called. At
// most 4096 strings are kept.
func (d *Decoder) Intern(b []byte) string {
	if d.noIntern || len(b) > maxInternedLen {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.strs == nil {
		d.strs = make(map[string]string, 64)
	}
	if len(d.strs) < maxInternedCount {
		d.strs[s] = s
	}
	return s
}

// Top skips leading whitespace, decodes the whole input with fn and checks
// that only whitespace follows what fn read.
func (d *Decoder) Top(fn func() error) error {
	d.SkipSpace()
	if err := fn(); err != nil {
		return err
	}
	d.SkipSpace()
	if d.pos < len(d.data) {
		return d.Errorf("trailing characters at offset %d", d.pos)
	}
	return nil
}

// Push appends the field name to the path that errors name; Pop removes
// it. The path of an empty stack is "message".
func (d *Decoder) Push(name string) { d.path = append(d.pathSlice(), pathSeg{name: name}) }

// PushIndex appends the array index i to the path that errors name; Pop
// removes it.
func (d *Decoder) PushIndex(i int) { d.path = append(d.pathSlice(), pathSeg{idx: i}) }

// pathSlice returns d.path, backed by d.pathBuf until it outgrows it.
func (d *Decoder) pathSlice() []pathSeg {
	if d.path == nil {
		d.path = d.pathBuf[:0]
	}
	return d.path
}

// Pop removes the last step that Push or PushIndex added to the path.
func (d *Decoder) Pop() { d.path = d.path[:len(d.path)-1] }

func (d *Decoder) pathString() string {
	var b strings.Builder
	for i, s := range d.path {
		if s.name == "" {
			fmt.Fprintf(&b, "[%d]", s.idx)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.name)
	}
	if b.Len() == 0 {
		return "message"
	}
	return b.String()
}

// Errorf returns an error that wraps the error given to Init and reads
// "<that error>: <path>: <formatted text>".
func (d *Decoder) Errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", d.malformed, d.pathString(), fmt.Sprintf(format, args...))
}

// got describes the value at the cursor for an error message.
func (d *Decoder) got() string {
	if d.pos >= len(d.data) {
		return "end of input"
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		end := d.pos + 1
		for end < len(d.data) && end-d.pos < 32 && strings.IndexByte("0123456789.eE+-", d.data[end]) >= 0 {
			end++
		}
		return string(d.data[d.pos:end])
	}
	return fmt.Sprintf("%q at offset %d", d.data[d.pos], d.pos)
}

// Want returns the error for a value at the cursor that is not what the
// caller reads: "want <what>, got <a description of the value>".
func (d *Decoder) Want(what string) error {
	return d.Errorf("want %s, got %s", what, d.got())
}

// SkipSpace moves the cursor past JSON whitespace.
func (d *Decoder) SkipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// Peek returns the byte at the cursor without consuming it, or 0 at the
// end of the input.
func (d *Decoder) Peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// Literal consumes lit and reports true if it is next; it leaves the
// whitespace after it.
func (d *Decoder) Literal(lit string) bool {
	if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return true
	}
	return false
}

// Null consumes a null, and the whitespace after it, and reports true if
// it is next.
func (d *Decoder) Null() bool {
	if d.Peek() == 'n' && d.Literal("null") {
		d.SkipSpace()
		return true
	}
	return false
}

func (d *Decoder) enter() error {
	d.depth++
	if d.depth > maxNesting {
		return d.Errorf("nesting deeper than %d levels", maxNesting)
	}
	return nil
}

// OpenObject consumes '{' and the whitespace after it, or returns Want(what)
// if the value at the cursor is not an object. It returns an error when the
// input nests deeper than 127 arrays and objects.
func (d *Decoder) OpenObject(what string) error { return d.open('{', what) }

// open consumes c, the opening of an object or an array, and the
// whitespace after it, or returns Want(what) if the cursor is not at c.
func (d *Decoder) open(c byte, what string) error {
	if d.Peek() != c {
		return d.Want(what)
	}
	if err := d.enter(); err != nil {
		return err
	}
	d.pos++
	d.SkipSpace()
	return nil
}

// NextKey reads the next member's key of an object opened with OpenObject
// and the ':' after it. It returns false at the closing '}' (consumed).
// first tells whether no member has been read yet. The key is valid as
// RawString's result is.
func (d *Decoder) NextKey(first bool) (key []byte, more bool, err error) {
	if d.Peek() == '}' {
		d.pos++
		d.depth--
		d.SkipSpace()
		return nil, false, nil
	}
	if !first {
		if d.Peek() != ',' {
			return nil, false, d.Errorf("want ',' or '}' at offset %d", d.pos)
		}
		d.pos++
		d.SkipSpace()
	}
	if d.Peek() != '"' {
		return nil, false, d.Errorf("want an object key at offset %d", d.pos)
	}
	key, err = d.RawString()
	if err != nil {
		return nil, false, err
	}
	d.SkipSpace()
	if d.Peek() != ':' {
		return nil, false, d.Errorf("want ':' at offset %d", d.pos)
	}
	d.pos++
	d.SkipSpace()
	return key, true, nil
}

// OpenArray consumes '[' and the whitespace after it, or returns Want(what)
// if the value at the cursor is not an array. It returns an error when the
// input nests deeper than 127 arrays and objects.
func (d *Decoder) OpenArray(what string) error { return d.open('[', what) }

// NextElem reports whether another element follows in an array opened with
// OpenArray; at the closing ']' (consumed) it returns false. first tells
// whether no element has been read yet.
func (d *Decoder) NextElem(first bool) (bool, error) {
	if d.Peek() == ']' {
		d.pos++
		d.depth--
		d.SkipSpace()
		return false, nil
	}
	if !first {
		if d.Peek() != ',' {
			return false, d.Errorf("want ',' or ']' at offset %d", d.pos)
		}
		d.pos++
		d.SkipSpace()
	}
	return true, nil
}

// RawString reads a JSON string, which must be valid UTF-8 with valid
// escapes, and returns its content, unescaped; it leaves the whitespace
// after it. The result aliases the input or the decoder's scratch buffer:
// it is valid until the next call.
func (d *Decoder) RawString() ([]byte, error) {
	if d.Peek() != '"' {
		return nil, d.Want("a string")
	}
	d.pos++
	d.escaped = false
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			s := d.data[start:d.pos]
			d.pos++
			return s, nil
		case c == '\\':
			return d.escapedString(start)
		case c < 0x20:
			return nil, d.Errorf("control character in a string at offset %d", d.pos)
		case c < utf8.RuneSelf:
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, d.Errorf("invalid UTF-8 in a string at offset %d", d.pos)
			}
			d.pos += size
		}
	}
	return nil, d.Errorf("unterminated string")
}

// escapedString continues rawString from the first backslash.
func (d *Decoder) escapedString(start int) ([]byte, error) {
	d.escaped = true
	buf := append(d.scratch[:0], d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			d.scratch = buf
			return buf, nil
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return nil, d.Errorf("unterminated string")
			}
			esc := d.data[d.pos+1]
			d.pos += 2
			switch esc {
			case '"', '\\', '/':
				buf = append(buf, esc)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return nil, d.Errorf("invalid \\u escape at offset %d", d.pos)
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 || !d.Literal(`\u`) {
						return nil, d.Errorf("lone surrogate in a \\u escape at offset %d", d.pos)
					}
					r2, ok := d.hex4()
					if !ok || r2 < 0xdc00 || r2 > 0xdfff {
						return nil, d.Errorf("lone surrogate in a \\u escape at offset %d", d.pos)
					}
					r = utf16.DecodeRune(r, r2)
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return nil, d.Errorf("invalid escape at offset %d", d.pos-1)
			}
		case c < 0x20:
			return nil, d.Errorf("control character in a string at offset %d", d.pos)
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, d.Errorf("invalid UTF-8 in a string at offset %d", d.pos)
			}
			buf = append(buf, d.data[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
	return nil, d.Errorf("unterminated string")
}

func (d *Decoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	d.pos += 4
	return r, true
}

// Str reads a string value (see RawString) as a string of its own, interned
// (see Intern).
func (d *Decoder) Str() (string, error) {
	b, err := d.RawString()
	if err != nil {
		return "", err
	}
	d.SkipSpace()
	return d.Intern(b), nil
}

// OptStr reads a string as Str does, or null as "".
func (d *Decoder) OptStr() (string, error) {
	if d.Null() {
		return "", nil
	}
	return d.Str()
}

// Number scans a JSON number (strictly: no leading zeros, no "+", no
// NaN) and returns its text, which aliases the input, and whether it is an
// integer (no fraction, no exponent).
func (d *Decoder) Number() (text []byte, integer bool, err error) {
	start := d.pos
	p := d.pos
	if p < len(d.data) && d.data[p] == '-' {
		p++
	}
	digits := func() int {
		n := 0
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
			n++
		}
		return n
	}
	if p < len(d.data) && d.data[p] == '0' {
		p++
	} else if digits() == 0 {
		return nil, false, d.Want("a number")
	}
	integer = true
	if p < len(d.data) && d.data[p] == '.' {
		p++
		integer = false
		if digits() == 0 {
			return nil, false, d.Errorf("invalid number at offset %d", start)
		}
	}
	if p < len(d.data) && (d.data[p] == 'e' || d.data[p] == 'E') {
		p++
		integer = false
		if p < len(d.data) && (d.data[p] == '+' || d.data[p] == '-') {
			p++
		}
		if digits() == 0 {
			return nil, false, d.Errorf("invalid number at offset %d", start)
		}
	}
	d.pos = p
	text = d.data[start:p]
	d.SkipSpace()
	return text, integer, nil
}

// Uint reads a non-negative integer no greater than max, written without
// a fraction or an exponent; -0 is rejected.
func (d *Decoder) Uint(max uint64) (uint64, error) {
	c := d.Peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, d.Want("a non-negative integer")
	}
	save := d.pos
	text, integer, err := d.Number()
	if err != nil {
		return 0, err
	}
	if !integer || text[0] == '-' {
		d.pos = save
		return 0, d.Want("a non-negative integer")
	}
	v, err := strconv.ParseUint(string(text), 10, 64)
	if err != nil || v > max {
		return 0, d.Errorf("integer %s out of range 0..%d", text, max)
	}
	return v, nil
}

// Float reads a number (an integer is fine) that is finite as a float64.
func (d *Decoder) Float() (float64, error) {
	c := d.Peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, d.Want("a number")
	}
	text, _, err := d.Number()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, d.Errorf("number %s out of range", text)
	}
	return f, nil
}

// Bool reads true or false.
func (d *Decoder) Bool() (bool, error) {
	switch {
	case d.Literal("true"):
		d.SkipSpace()
		return true, nil
	case d.Literal("false"):
		d.SkipSpace()
		return false, nil
	}
	return false, d.Want("a boolean")
}

// UUID reads a string holding a hyphenated UUID, in either case.
func (d *Decoder) UUID() ([16]byte, error) {
	b, err := d.RawString()
	if err != nil {
		return [16]byte{}, err
	}
	u, err := uuid.Parse(b)
	if err != nil {
		return u, d.Errorf("want a hyphenated UUID, got %q", b)
	}
	d.SkipSpace()
	return u, nil
}

// OptUUID reads a UUID as UUID does, or null as the zero UUID.
func (d *Decoder) OptUUID() ([16]byte, error) {
	if d.Null() {
		return [16]byte{}, nil
	}
	return d.UUID()
}

// Bytes reads an array of integers 0..255 (serde's form of bytes) into a
// new slice; [] gives a non-nil empty slice.
func (d *Decoder) Bytes() ([]byte, error) {
	if err := d.OpenArray("an array of integers 0..255"); err != nil {
		return nil, err
	}
	out := []byte{}
	for i := 0; ; i++ {
		more, err := d.NextElem(i == 0)
		if err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
		// Fast path for the common 1..3 digit form.
		p := d.pos
		v, n := 0, 0
		for p < len(d.data) && n < 4 && d.data[p] >= '0' && d.data[p] <= '9' {
			v = v*10 + int(d.data[p]-'0')
			p++
			n++
		}
		if n > 0 && n < 4 && v <= 255 && (n == 1 || d.data[d.pos] != '0') &&
			(p == len(d.data) || strings.IndexByte(".eE", d.data[p]) < 0) {
			d.pos = p
			d.SkipSpace()
			out = append(out, byte(v))
			continue
		}
		d.PushIndex(i)
		x, err := d.Uint(255)
		d.Pop()
		if err != nil {
			return nil, err
		}
		out = append(out, byte(x))
	}
}

// Skip reads and discards any JSON value, validating it as strictly as the
// other methods read: its strings, its numbers (finite) and its nesting.
func (d *Decoder) Skip() error {
	switch c := d.Peek(); {
	case c == '"':
		_, err := d.RawString()
		d.SkipSpace()
		return err
	case c == '{':
		if err := d.OpenObject("an object"); err != nil {
			return err
		}
		for first := true; ; first = false {
			_, more, err := d.NextKey(first)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
	case c == '[':
		if err := d.OpenArray("an array"); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := d.NextElem(first)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
	case c == 't' || c == 'f':
		_, err := d.Bool()
		return err
	case c == 'n':
		if d.Null() {
			return nil
		}
	case c == '-' || c >= '0' && c <= '9':
		text, integer, err := d.Number()
		if err != nil {
			return err
		}
		if !integer {
			if _, err := strconv.ParseFloat(string(text), 64); err != nil {
				return d.Errorf("number %s out of range", text)
			}
		}
		return nil
	}
	return d.Want("a JSON value")
}

// Value reads any JSON value into a Value: integers that fit int64 are
// ValueInt, larger ones ValueUint, other numbers ValueFloat (-0 is a
// float), null the zero Value. An object's repeated key keeps its first
// position and its last value, as a map on the server does.
func (d *Decoder) Value() (attr.Value, error) {
	switch c := d.Peek(); {
	case c == '"':
		s, err := d.Str()
		return attr.StringValue(s), err
	case c == '{':
		if err := d.OpenObject("an object"); err != nil {
			return attr.Value{}, err
		}
		var ab attrBuilder
		for first := true; ; first = false {
			k, more, err := d.NextKey(first)
			if err != nil {
				return attr.Value{}, err
			}
			if !more {
				if ab.attrs == nil {
					ab.attrs = []attr.KeyValue{}
				}
				return attr.ObjectValue(ab.attrs...), nil
			}
			key := d.Intern(k)
			d.Push(key)
			v, err := d.Value()
			d.Pop()
			if err != nil {
				return attr.Value{}, err
			}
			ab.set(key, v)
		}
	case c == '[':
		if err := d.OpenArray("an array"); err != nil {
			return attr.Value{}, err
		}
		vs := []attr.Value{}
		for i := 0; ; i++ {
			more, err := d.NextElem(i == 0)
			if err != nil {
				return attr.Value{}, err
			}
			if !more {
				return attr.ArrayValue(vs...), nil
			}
			d.PushIndex(i)
			v, err := d.Value()
			d.Pop()
			if err != nil {
				return attr.Value{}, err
			}
			vs = append(vs, v)
		}
	case c == 't' || c == 'f':
		b, err := d.Bool()
		return attr.BoolValue(b), err
	case c == 'n':
		if d.Null() {
			return attr.Value{}, nil
		}
	case c == '-' || c >= '0' && c <= '9':
		text, integer, err := d.Number()
		if err != nil {
			return attr.Value{}, err
		}
		if integer {
			if text[0] == '-' {
				if v, err := strconv.ParseInt(string(text), 10, 64); err == nil && v != 0 {
					return attr.IntValue(v), nil
				}
			} else if v, err := strconv.ParseUint(string(text), 10, 64); err == nil {
				if v <= math.MaxInt64 {
					return attr.IntValue(int64(v)), nil
				}
				return attr.UintValue(v), nil
			}
		}
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil || math.IsInf(f, 0) {
			return attr.Value{}, d.Errorf("number %s out of range", text)
		}
		return attr.FloatValue(f), nil
	}
	return attr.Value{}, d.Want("a JSON value")
}

// fields tracks the fields of a struct being decoded: which were seen, and
// which are required.
type fields struct {
	names    []string
	seen     uint32
	required uint32
}

// field finds key among f.names, marks it seen and pushes it on the path.
// It returns -1 for an unknown key (to be skipped).
func (d *Decoder) field(f *fields, key []byte) (int, error) {
	for i, n := range f.names {
		if n == string(key) {
			if f.seen&(1<<i) != 0 {
				return -1, d.Errorf("duplicate field %q", n)
			}
			f.seen |= 1 << i
			d.Push(n)
			return i, nil
		}
	}
	return -1, nil
}

// missing returns an error naming the first required field not seen.
func (d *Decoder) missing(f *fields) error {
	if m := f.required &^ f.seen; m != 0 {
		for i, n := range f.names {
			if m&(1<<i) != 0 {
				return d.Errorf("missing field %q", n)
			}
		}
	}
	return nil
}

// Struct decodes an object whose known fields are names, at most 32 (bit i
// of required set if names[i] must be present), calling fn for each known
// field with the value at the cursor and the field's name pushed on the
// path. Unknown fields are skipped; a repeated or missing required field is
// an error that names it. LastSeen then tells which fields were present.
func (d *Decoder) Struct(what string, names []string, required uint32, fn func(i int) error) error {
	if err := d.OpenObject(what); err != nil {
		return err
	}
	f := fields{names: names, required: required}
	for first := true; ; first = false {
		key, more, err := d.NextKey(first)
		if err != nil {
			return err
		}
		if !more {
			d.lastSeen = f.seen
			return d.missing(&f)
		}
		i, err := d.field(&f, key)
		if err != nil {
			return err
		}
		if i < 0 {
			if err := d.Skip(); err != nil {
				return err
			}
			continue
		}
		if err := fn(i); err != nil {
			return err
		}
		d.Pop()
	}
}

// Variant reads an externally tagged enum, as serde writes it: a bare
// string tag (unit variant) or an object with one key, the tag, whose value
// is read by body. unit reports whether tag is a unit variant (an error it
// returns is returned as is); body is called only for the others. A unit
// variant may also be written {"Tag":null}. what names the enum in errors.
func (d *Decoder) Variant(what string, unit func(tag []byte) (bool, error), body func(tag []byte) error) error {
	switch d.Peek() {
	case '"':
		tag, err := d.RawString()
		if err != nil {
			return err
		}
		ok, err := unit(tag)
		if err != nil {
			return err
		}
		if !ok {
			return d.Errorf("%s variant %q needs content or is unknown", what, tag)
		}
		d.SkipSpace()
		return nil
	case '{':
		if err := d.OpenObject(what); err != nil {
			return err
		}
		key, more, err := d.NextKey(true)
		if err != nil {
			return err
		}
		if !more {
			return d.Errorf("want %s, got an empty object", what)
		}
		// A key in the scratch buffer would be overwritten by the body.
		tag := key
		if d.escaped {
			tag = []byte(string(key))
		}
		ok, err := unit(tag)
		if err != nil {
			return err
		}
		if ok {
			// serde reads a unit variant from {"Tag":null} too.
			if !d.Null() {
				return d.Errorf("%s variant %q takes no content", what, tag)
			}
		} else if err := body(tag); err != nil {
			return err
		}
		_, more, err = d.NextKey(false)
		if err != nil {
			return err
		}
		if more {
			return d.Errorf("want %s with one key, got more", what)
		}
		return nil
	}
	return d.Want(what)
}

// UnknownVariant returns the error for a tag that is not part of the enum
// what.
func (d *Decoder) UnknownVariant(what string, tag []byte) error {
	return d.Errorf("unknown %s variant %q", what, tag)
}

// Array reads a JSON array, or returns Want(what), calling elem for each
// element with the cursor on it and its index pushed on the path.
func (d *Decoder) Array(what string, elem func() error) error {
	if err := d.OpenArray(what); err != nil {
		return err
	}
	for i := 0; ; i++ {
		more, err := d.NextElem(i == 0)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		d.PushIndex(i)
		if err := elem(); err != nil {
			return err
		}
		d.Pop()
	}
}

// smallObject is the number of members up to which attrBuilder looks for
// a repeated key without a map.
const smallObject = 32

// attrBuilder collects the members of an object; like the server's map, a
// repeated key keeps its first position and its last value.
type attrBuilder struct {
	attrs []attr.KeyValue
	index map[string]int // built once the object is no longer small
}

func (b *attrBuilder) set(key string, v attr.Value) {
	if b.index != nil {
		if i, ok := b.index[key]; ok {
			b.attrs[i].Value = v
			return
		}
		b.index[key] = len(b.attrs)
	} else {
		for i := range b.attrs {
			if b.attrs[i].Key == key {
				b.attrs[i].Value = v
				return
			}
		}
	}
	b.attrs = append(b.attrs, attr.KeyValue{Key: key, Value: v})
	if b.index == nil && len(b.attrs) > smallObject {
		b.index = make(map[string]int, 2*len(b.attrs))
		for i, a := range b.attrs {
			b.index[a.Key] = i
		}
	}
}

// Attributes reads a JSON object into as (replacing its content), each
// member's value as Value reads it, a repeated key as Value does. The
// first attributes are decoded into as's inline storage, so a small object
// allocates nothing beyond its strings.
func (d *Decoder) Attributes(as *attr.Set) error {
	as.Reset()
	if err := d.OpenObject("an object"); err != nil {
		return err
	}
	ab := attrBuilder{attrs: d.attrs[:0]}
	d.attrs = nil // a nested object must not share it
	for first := true; ; first = false {
		k, more, err := d.NextKey(first)
		if err != nil {
			return err
		}
		if !more {
			as.Add(ab.attrs...)
			if cap(ab.attrs) <= maxScratchAttrs {
				clear(ab.attrs)
				d.attrs = ab.attrs[:0]
			}
			return nil
		}
		key := d.Intern(k)
		d.Push(key)
		v, err := d.Value()
		d.Pop()
		if err != nil {
			return err
		}
		ab.set(key, v)
	}
}
