package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// maxNesting is the nesting limit of the server's JSON reader for a whole
// message: 127 levels of arrays and objects are accepted, 128 are not.
const maxNesting = 127

// DecodeRequest reads a request like the reference server does: as a
// TracingRequest, then as a legacy TraceMessage (StoreTrace, GetMetrics).
// It reads what a generation-2 server reads, which is everything a
// generation-1 server reads and more; a server that emulates generation 1
// tells the additions apart in the result: EndTrace (which generation 1
// rejects), a StartTrace.TraceID, GetTrace/QueryTraces.RequestID (which it
// ignores), a non-zero PerformanceMetrics.Unmeasured (a null or absent
// metric) and a nil MessageSnapshot.SerializedData (absent), both of which
// it rejects. A request_id that is null or not a UUID reads as zero, as the
// generation-2 server then takes the legacy path; StartTrace's trace_id,
// when present, must be a UUID.
// It is as strict as the server: required fields must be present, integers
// must be non-negative integers in range, bytes 0..255, floats finite
// numbers, enum tags exact, strings valid UTF-8; optional fields may be null
// or absent and unknown fields are ignored. A duplicate field is an error.
// The legacy Subscribe shape, {"Subscribe":{"filter":…}}, is read as a
// Subscribe too. Anything else returns an error wrapping ErrMalformed that
// names the path of the offending value. It never panics. The result is the value form of
// the message type (e.g. RecordEvent).
//
// Decoded events differ from the ones encoded in three ways: a Custom event
// written in the default form reads back as a KindNetworkEvent with its
// "event_subtype" attribute (it is not turned back into KindCustom); span and
// root cause ids the encoder filled in are explicit; empty optional strings
// and zero optional times read back as "" / the zero time.
//
// Where it departs from the reference server: it also accepts the
// {"Custom":"name"} event type (as KindCustom), which the reference server
// rejects, so a server built on it that must behave like the reference one
// rejects KindCustom events itself; and it is stricter in two corners the
// SDK never writes: ids must be hyphenated UUIDs (not the simple, braced or
// URN forms) and structs must be JSON objects (not serde's array form).
func DecodeRequest(data []byte) (TracingRequest, error) {
	return decodeTop(data, (*decoder).request)
}

// DecodeResponse reads a server message (a reply or a pushed notification)
// from JSON text, of either server generation. It accepts both shapes of
// Error (a missing or unknown code gives Code "") and of TraceData (a null
// trace gives a nil Trace); a request_id that is absent or null gives a
// zero RequestID. It is as strict as DecodeRequest.
func DecodeResponse(data []byte) (TracingResponse, error) {
	return decodeTop(data, (*decoder).response)
}

// decodeTop reads data as one JSON text holding the message read; on error
// it returns the zero M (a nil interface) with the error.
func decodeTop[M any](data []byte, read func(*decoder) (M, error)) (M, error) {
	d := decoder{data: data}
	var msg M
	err := d.top(func() error {
		var err error
		msg, err = read(&d)
		return err
	})
	if err != nil {
		var zero M
		return zero, err
	}
	return msg, nil
}

// pathSeg is one step of the path to the value being decoded: a field name,
// or an array index when name is "".
type pathSeg struct {
	name string
	idx  int
}

// decoder is a strict reader of one JSON text.
type decoder struct {
	data  []byte
	pos   int
	depth int
	path  []pathSeg
	// pathBuf holds path up to its usual depth, so that descending into
	// a message does not allocate.
	pathBuf [8]pathSeg
	scratch []byte
	// lastSeen is the set of fields the last structure call read.
	lastSeen uint32
	// escaped tells whether the last rawString result lives in scratch.
	escaped bool
	// strs interns the short strings of a message: the actor ids, ports
	// and keys of a batch repeat.
	strs map[string]string
	// noIntern turns interning off, for inputs too small to repeat
	// strings: building the table would cost more than it saves.
	noIntern bool
	// attrs is reused to collect the members of custom attributes.
	attrs []attr.KeyValue
}

// maxScratchAttrs bounds the attribute scratch a decoder keeps.
const maxScratchAttrs = 256

// maxInterned bounds what the decoder interns.
const (
	maxInternedLen   = 64
	maxInternedCount = 4096
)

// intern returns b as a string, reusing an earlier equal string of the
// same message.
func (d *decoder) intern(b []byte) string {
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

// top decodes the whole input with fn and checks nothing follows it.
func (d *decoder) top(fn func() error) error {
	d.ws()
	if err := fn(); err != nil {
		return err
	}
	d.ws()
	if d.pos < len(d.data) {
		return d.errorf("trailing characters at offset %d", d.pos)
	}
	return nil
}

func (d *decoder) push(name string) { d.path = append(d.pathSlice(), pathSeg{name: name}) }
func (d *decoder) pushIdx(i int)    { d.path = append(d.pathSlice(), pathSeg{idx: i}) }

// pathSlice returns d.path, backed by d.pathBuf until it outgrows it.
func (d *decoder) pathSlice() []pathSeg {
	if d.path == nil {
		d.path = d.pathBuf[:0]
	}
	return d.path
}
func (d *decoder) pop() { d.path = d.path[:len(d.path)-1] }

func (d *decoder) pathString() string {
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

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", tracing.ErrMalformed, d.pathString(), fmt.Sprintf(format, args...))
}

// got describes the value at the cursor for an error message.
func (d *decoder) got() string {
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

func (d *decoder) want(what string) error {
	return d.errorf("want %s, got %s", what, d.got())
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// literal consumes lit if it is next.
func (d *decoder) literal(lit string) bool {
	if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return true
	}
	return false
}

// null consumes a null if it is next.
func (d *decoder) null() bool {
	if d.peek() == 'n' && d.literal("null") {
		d.ws()
		return true
	}
	return false
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxNesting {
		return d.errorf("nesting deeper than %d levels", maxNesting)
	}
	return nil
}

// openObject consumes '{'.
func (d *decoder) openObject(what string) error {
	if d.peek() != '{' {
		return d.want(what)
	}
	if err := d.enter(); err != nil {
		return err
	}
	d.pos++
	d.ws()
	return nil
}

// nextKey reads the next member's key of an object opened with openObject
// and the ':' after it. It returns false at the closing '}' (consumed).
// first tells whether no member has been read yet.
func (d *decoder) nextKey(first bool) (key []byte, more bool, err error) {
	if d.peek() == '}' {
		d.pos++
		d.depth--
		d.ws()
		return nil, false, nil
	}
	if !first {
		if d.peek() != ',' {
			return nil, false, d.errorf("want ',' or '}' at offset %d", d.pos)
		}
		d.pos++
		d.ws()
	}
	if d.peek() != '"' {
		return nil, false, d.errorf("want an object key at offset %d", d.pos)
	}
	key, err = d.rawString()
	if err != nil {
		return nil, false, err
	}
	d.ws()
	if d.peek() != ':' {
		return nil, false, d.errorf("want ':' at offset %d", d.pos)
	}
	d.pos++
	d.ws()
	return key, true, nil
}

// openArray consumes '['.
func (d *decoder) openArray(what string) error {
	if d.peek() != '[' {
		return d.want(what)
	}
	if err := d.enter(); err != nil {
		return err
	}
	d.pos++
	d.ws()
	return nil
}

// nextElem reports whether another element follows in an array opened with
// openArray; at the closing ']' (consumed) it returns false.
func (d *decoder) nextElem(first bool) (bool, error) {
	if d.peek() == ']' {
		d.pos++
		d.depth--
		d.ws()
		return false, nil
	}
	if !first {
		if d.peek() != ',' {
			return false, d.errorf("want ',' or ']' at offset %d", d.pos)
		}
		d.pos++
		d.ws()
	}
	return true, nil
}

// rawString reads a JSON string and returns its content, unescaped. The
// result aliases the input or the decoder's scratch buffer: it is valid
// until the next call.
func (d *decoder) rawString() ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.want("a string")
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
			return nil, d.errorf("control character in a string at offset %d", d.pos)
		case c < utf8.RuneSelf:
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, d.errorf("invalid UTF-8 in a string at offset %d", d.pos)
			}
			d.pos += size
		}
	}
	return nil, d.errorf("unterminated string")
}

// escapedString continues rawString from the first backslash.
func (d *decoder) escapedString(start int) ([]byte, error) {
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
				return nil, d.errorf("unterminated string")
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
					return nil, d.errorf("invalid \\u escape at offset %d", d.pos)
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 || !d.literal(`\u`) {
						return nil, d.errorf("lone surrogate in a \\u escape at offset %d", d.pos)
					}
					r2, ok := d.hex4()
					if !ok || r2 < 0xdc00 || r2 > 0xdfff {
						return nil, d.errorf("lone surrogate in a \\u escape at offset %d", d.pos)
					}
					r = utf16.DecodeRune(r, r2)
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return nil, d.errorf("invalid escape at offset %d", d.pos-1)
			}
		case c < 0x20:
			return nil, d.errorf("control character in a string at offset %d", d.pos)
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, d.errorf("invalid UTF-8 in a string at offset %d", d.pos)
			}
			buf = append(buf, d.data[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
	return nil, d.errorf("unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
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

// str reads a string value.
func (d *decoder) str() (string, error) {
	b, err := d.rawString()
	if err != nil {
		return "", err
	}
	d.ws()
	return d.intern(b), nil
}

// optStr reads a string or null ("").
func (d *decoder) optStr() (string, error) {
	if d.null() {
		return "", nil
	}
	return d.str()
}

// number scans a JSON number and returns its text and whether it is an
// integer (no fraction, no exponent).
func (d *decoder) number() (text []byte, integer bool, err error) {
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
		return nil, false, d.want("a number")
	}
	integer = true
	if p < len(d.data) && d.data[p] == '.' {
		p++
		integer = false
		if digits() == 0 {
			return nil, false, d.errorf("invalid number at offset %d", start)
		}
	}
	if p < len(d.data) && (d.data[p] == 'e' || d.data[p] == 'E') {
		p++
		integer = false
		if p < len(d.data) && (d.data[p] == '+' || d.data[p] == '-') {
			p++
		}
		if digits() == 0 {
			return nil, false, d.errorf("invalid number at offset %d", start)
		}
	}
	d.pos = p
	text = d.data[start:p]
	d.ws()
	return text, integer, nil
}

// uint reads a non-negative integer no greater than max.
func (d *decoder) uint(max uint64) (uint64, error) {
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, d.want("a non-negative integer")
	}
	save := d.pos
	text, integer, err := d.number()
	if err != nil {
		return 0, err
	}
	if !integer || text[0] == '-' {
		d.pos = save
		return 0, d.want("a non-negative integer")
	}
	v, err := strconv.ParseUint(string(text), 10, 64)
	if err != nil || v > max {
		return 0, d.errorf("integer %s out of range 0..%d", text, max)
	}
	return v, nil
}

// float reads a finite number (an integer is fine).
func (d *decoder) float() (float64, error) {
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, d.want("a number")
	}
	text, _, err := d.number()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, d.errorf("number %s out of range", text)
	}
	return f, nil
}

func (d *decoder) boolean() (bool, error) {
	switch {
	case d.literal("true"):
		d.ws()
		return true, nil
	case d.literal("false"):
		d.ws()
		return false, nil
	}
	return false, d.want("a boolean")
}

// id reads a hyphenated UUID string.
func (d *decoder) id() ([16]byte, error) {
	b, err := d.rawString()
	if err != nil {
		return [16]byte{}, err
	}
	u, err := uuid.Parse(b)
	if err != nil {
		return u, d.errorf("want a hyphenated UUID, got %q", b)
	}
	d.ws()
	return u, nil
}

// optID reads a UUID or null (zero).
func (d *decoder) optID() ([16]byte, error) {
	if d.null() {
		return [16]byte{}, nil
	}
	return d.id()
}

// timestamp reads an RFC 3339 timestamp, returned in UTC. Besides the
// RFC 3339 forms (any number of fraction digits, "Z" or a numeric offset)
// it reads what the server's date library (chrono) writes beyond them:
//
//   - a year outside 0000..9999 as a sign and at least four digits:
//     "+10000-01-01T00:00:00Z" is the year 10000 and "-0001-01-01T00:00:00Z"
//     the year -1 of the proleptic Gregorian calendar with a year 0, which
//     chrono and time.Time share (year 0 is 1 BC, year -1 is 2 BC);
//   - a leap second, second 60, with or without a fraction, at any minute
//     (chrono accepts it at any minute, though UTC inserts it only at the
//     end of a month): it reads as the first second of the next minute, so
//     "2016-12-31T23:59:60.5Z" is 2017-01-01T00:00:00.5Z.
//
// A leap second maps onto the next second, not onto the last nanosecond
// of second 59, because that keeps its fraction and the order of the
// instants inside it, is where time.Date itself puts a second 60, and is
// where chrono's own nanosecond timestamp of it lies (59 s plus its
// nanosecond field, which counts from 1e9 during the leap second). The
// cost: it reads equal to the instant one second later, and re-encodes as
// that instant (time.Time cannot hold a leap second).
func (d *decoder) timestamp() (time.Time, error) {
	b, err := d.rawString()
	if err != nil {
		return time.Time{}, err
	}
	t, ok := parseTimeUTC(b)
	if !ok {
		t, ok = parseTimeExtended(b)
	}
	if !ok {
		var perr error
		t, perr = time.Parse(time.RFC3339Nano, string(b))
		if perr != nil {
			return time.Time{}, d.errorf("want an RFC 3339 timestamp, got %q", b)
		}
		t = t.UTC()
	}
	d.ws()
	return t, nil
}

// parseTimeUTC parses the common form YYYY-MM-DDTHH:MM:SS[.fraction]Z
// without allocating.
func parseTimeUTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	nsec := 0
	rest := b[19 : len(b)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		f, ok := num(rest[1:])
		if !ok {
			return time.Time{}, false
		}
		for i := len(rest) - 1; i < 9; i++ {
			f *= 10
		}
		nsec = f
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// parseTimeExtended parses the RFC 3339 forms parseTimeUTC does not:
// signed years of four or more digits, second 60, fractions of any length
// (digits beyond the ninth are dropped) and numeric offsets. It does not
// allocate.
func parseTimeExtended(b []byte) (time.Time, bool) {
	p := 0
	digits := func(min, max int) (int, bool) {
		n, start := 0, p
		for p < len(b) && p-start < max && b[p] >= '0' && b[p] <= '9' {
			n = n*10 + int(b[p]-'0')
			p++
		}
		return n, p-start >= min
	}
	sep := func(c byte) bool {
		if p < len(b) && b[p] == c {
			p++
			return true
		}
		return false
	}
	neg := false
	signed := p < len(b) && (b[p] == '+' || b[p] == '-')
	if signed {
		neg = b[p] == '-'
		p++
	}
	start := p
	year, ok := digits(4, 9)
	if !ok || !signed && p-start != 4 {
		return time.Time{}, false
	}
	if neg {
		year = -year
	}
	month, ok1 := 0, sep('-')
	if ok1 {
		month, ok1 = digits(2, 2)
	}
	day, ok2 := 0, ok1 && sep('-')
	if ok2 {
		day, ok2 = digits(2, 2)
	}
	if !ok2 || p >= len(b) || b[p] != 'T' && b[p] != 't' {
		return time.Time{}, false
	}
	p++
	hour, ok3 := digits(2, 2)
	minute, ok4 := 0, ok3 && sep(':')
	if ok4 {
		minute, ok4 = digits(2, 2)
	}
	sec, ok5 := 0, ok4 && sep(':')
	if ok5 {
		sec, ok5 = digits(2, 2)
	}
	if !ok5 {
		return time.Time{}, false
	}
	nsec := 0
	if sep('.') {
		start := p
		for p < len(b) && b[p] >= '0' && b[p] <= '9' {
			if p-start < 9 {
				nsec = nsec*10 + int(b[p]-'0')
			}
			p++
		}
		n := p - start
		if n == 0 {
			return time.Time{}, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	offset := 0
	switch {
	case sep('Z') || sep('z'):
	case p < len(b) && (b[p] == '+' || b[p] == '-'):
		sign := 1
		if b[p] == '-' {
			sign = -1
		}
		p++
		oh, ok := digits(2, 2)
		if !ok || !sep(':') {
			return time.Time{}, false
		}
		om, ok := digits(2, 2)
		if !ok || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = sign * (oh*3600 + om*60)
	default:
		return time.Time{}, false
	}
	if p != len(b) || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	// time.Date normalises second 60 to the next minute's second 0.
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// bytes reads an array of integers 0..255; [] gives a non-nil empty slice.
func (d *decoder) bytes() ([]byte, error) {
	if err := d.openArray("an array of integers 0..255"); err != nil {
		return nil, err
	}
	out := []byte{}
	for i := 0; ; i++ {
		more, err := d.nextElem(i == 0)
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
			d.ws()
			out = append(out, byte(v))
			continue
		}
		d.pushIdx(i)
		x, err := d.uint(255)
		d.pop()
		if err != nil {
			return nil, err
		}
		out = append(out, byte(x))
	}
}

// skip reads and discards any JSON value, validating it.
func (d *decoder) skip() error {
	switch c := d.peek(); {
	case c == '"':
		_, err := d.rawString()
		d.ws()
		return err
	case c == '{':
		if err := d.openObject("an object"); err != nil {
			return err
		}
		for first := true; ; first = false {
			_, more, err := d.nextKey(first)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case c == '[':
		if err := d.openArray("an array"); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := d.nextElem(first)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case c == 't' || c == 'f':
		_, err := d.boolean()
		return err
	case c == 'n':
		if d.null() {
			return nil
		}
	case c == '-' || c >= '0' && c <= '9':
		text, integer, err := d.number()
		if err != nil {
			return err
		}
		if !integer {
			if _, err := strconv.ParseFloat(string(text), 64); err != nil {
				return d.errorf("number %s out of range", text)
			}
		}
		return nil
	}
	return d.want("a JSON value")
}

// value reads any JSON value into a Value: integers that fit int64 are
// ValueInt, larger ones ValueUint, other numbers ValueFloat.
func (d *decoder) value() (attr.Value, error) {
	switch c := d.peek(); {
	case c == '"':
		s, err := d.str()
		return attr.StringValue(s), err
	case c == '{':
		if err := d.openObject("an object"); err != nil {
			return attr.Value{}, err
		}
		var ab attrBuilder
		for first := true; ; first = false {
			k, more, err := d.nextKey(first)
			if err != nil {
				return attr.Value{}, err
			}
			if !more {
				if ab.attrs == nil {
					ab.attrs = []attr.KeyValue{}
				}
				return attr.ObjectValue(ab.attrs...), nil
			}
			key := d.intern(k)
			d.push(key)
			v, err := d.value()
			d.pop()
			if err != nil {
				return attr.Value{}, err
			}
			ab.set(key, v)
		}
	case c == '[':
		if err := d.openArray("an array"); err != nil {
			return attr.Value{}, err
		}
		vs := []attr.Value{}
		for i := 0; ; i++ {
			more, err := d.nextElem(i == 0)
			if err != nil {
				return attr.Value{}, err
			}
			if !more {
				return attr.ArrayValue(vs...), nil
			}
			d.pushIdx(i)
			v, err := d.value()
			d.pop()
			if err != nil {
				return attr.Value{}, err
			}
			vs = append(vs, v)
		}
	case c == 't' || c == 'f':
		b, err := d.boolean()
		return attr.BoolValue(b), err
	case c == 'n':
		if d.null() {
			return attr.Value{}, nil
		}
	case c == '-' || c >= '0' && c <= '9':
		text, integer, err := d.number()
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
			return attr.Value{}, d.errorf("number %s out of range", text)
		}
		return attr.FloatValue(f), nil
	}
	return attr.Value{}, d.want("a JSON value")
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
func (d *decoder) field(f *fields, key []byte) (int, error) {
	for i, n := range f.names {
		if n == string(key) {
			if f.seen&(1<<i) != 0 {
				return -1, d.errorf("duplicate field %q", n)
			}
			f.seen |= 1 << i
			d.push(n)
			return i, nil
		}
	}
	return -1, nil
}

// missing returns an error naming the first required field not seen.
func (d *decoder) missing(f *fields) error {
	if m := f.required &^ f.seen; m != 0 {
		for i, n := range f.names {
			if m&(1<<i) != 0 {
				return d.errorf("missing field %q", n)
			}
		}
	}
	return nil
}

// structure decodes an object whose known fields are names (the first
// required of them, by bit), calling fn for each known field with the value
// at the cursor. Unknown fields are skipped.
func (d *decoder) structure(what string, names []string, required uint32, fn func(i int) error) error {
	if err := d.openObject(what); err != nil {
		return err
	}
	f := fields{names: names, required: required}
	for first := true; ; first = false {
		key, more, err := d.nextKey(first)
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
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		if err := fn(i); err != nil {
			return err
		}
		d.pop()
	}
}

// variant reads an externally tagged enum: a bare string tag (unit
// variant) or an object with one key, the tag, whose value is read by body.
// unit reports whether tag is a unit variant; body is called only for the
// others.
func (d *decoder) variant(what string, unit func(tag []byte) (bool, error), body func(tag []byte) error) error {
	switch d.peek() {
	case '"':
		tag, err := d.rawString()
		if err != nil {
			return err
		}
		ok, err := unit(tag)
		if err != nil {
			return err
		}
		if !ok {
			return d.errorf("%s variant %q needs content or is unknown", what, tag)
		}
		d.ws()
		return nil
	case '{':
		if err := d.openObject(what); err != nil {
			return err
		}
		key, more, err := d.nextKey(true)
		if err != nil {
			return err
		}
		if !more {
			return d.errorf("want %s, got an empty object", what)
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
			if !d.null() {
				return d.errorf("%s variant %q takes no content", what, tag)
			}
		} else if err := body(tag); err != nil {
			return err
		}
		_, more, err = d.nextKey(false)
		if err != nil {
			return err
		}
		if more {
			return d.errorf("want %s with one key, got more", what)
		}
		return nil
	}
	return d.want(what)
}

// unknownVariant is the error for a tag that is not part of an enum.
func (d *decoder) unknownVariant(what string, tag []byte) error {
	return d.errorf("unknown %s variant %q", what, tag)
}

func (d *decoder) request() (TracingRequest, error) {
	var req TracingRequest
	err := d.variant("a request",
		func(tag []byte) (bool, error) {
			switch string(tag) {
			case "Ping":
				req = Ping{}
			case "Unsubscribe":
				req = Unsubscribe{}
			case "GetMetrics":
				req = GetMetrics{}
			case "StartTrace", "RecordEvent", "EndTrace", "GetTrace", "QueryTraces", "GetFlowVersions", "Subscribe", "StoreTrace":
				return false, nil
			default:
				return false, d.unknownVariant("request", tag)
			}
			return true, nil
		},
		func(tag []byte) error {
			name := string(tag)
			d.push(name)
			defer d.pop()
			switch name {
			case "StartTrace":
				// trace_id is the generation-2 form: optional, but when
				// present it must be a UUID (null is rejected, as by the
				// server).
				var r StartTrace
				err := d.structure("a StartTrace object", []string{"trace_id", "flow_id", "version"}, 0b110, func(i int) error {
					switch i {
					case 0:
						u, err := d.id()
						r.TraceID = u
						return err
					case 1:
						s, err := d.str()
						r.FlowID = tracing.FlowID(s)
						return err
					}
					return d.flowVersion(&r.Version)
				})
				req = r
				return err
			case "EndTrace":
				var r EndTrace
				err := d.structure("an EndTrace object", []string{"trace_id", "status"}, 0b11, func(i int) error {
					if i == 0 {
						u, err := d.id()
						r.TraceID = u
						return err
					}
					return d.status(&r.Status)
				})
				req = r
				return err
			case "RecordEvent":
				r := &RecordEvent{}
				d.noIntern = true // one event: its strings do not repeat
				err := d.traceEvent("a RecordEvent object", &r.TraceID, &r.Event)
				req = *r
				return err
			case "GetTrace":
				var r GetTrace
				err := d.structure("a GetTrace object", []string{"trace_id", "request_id"}, 1, func(i int) error {
					if i == 1 {
						return d.lenientRequestID(&r.RequestID)
					}
					u, err := d.id()
					r.TraceID = u
					return err
				})
				req = r
				return err
			case "QueryTraces":
				var r QueryTraces
				err := d.structure("a QueryTraces object", []string{"query", "request_id"}, 1, func(i int) error {
					if i == 1 {
						return d.lenientRequestID(&r.RequestID)
					}
					return d.traceQuery(&r.Query)
				})
				req = r
				return err
			case "GetFlowVersions":
				var r GetFlowVersions
				err := d.structure("a GetFlowVersions object", []string{"flow_id"}, 1, func(int) error {
					s, err := d.str()
					r.FlowID = tracing.FlowID(s)
					return err
				})
				req = r
				return err
			case "Subscribe":
				// The legacy Subscribe names its field "filter"; the server
				// reads it when "filters" is absent.
				var r, legacy Subscribe
				err := d.structure("a Subscribe object", []string{"filters", "filter"}, 0, func(i int) error {
					if i == 1 {
						return d.filters(&legacy.Filters)
					}
					return d.filters(&r.Filters)
				})
				if err != nil {
					return err
				}
				if s := d.lastSeen; s&1 == 0 {
					if s&2 == 0 {
						return d.errorf("missing field %q", "filters")
					}
					r = legacy
				}
				req = r
				return nil
			case "StoreTrace":
				r := &StoreTrace{}
				err := d.structure("a StoreTrace object", []string{"trace"}, 1, func(int) error {
					return d.flowTrace(&r.Trace)
				})
				req = *r
				return err
			}
			return d.unknownVariant("request", tag)
		})
	if err != nil {
		return nil, err
	}
	return req, nil
}

// lenientRequestID reads the request_id of a GetTrace or QueryTraces
// request like a generation-2 server: a UUID string is the request id;
// null or any other JSON value sends the request down the legacy path,
// which ignores it, so it reads as the zero id.
func (d *decoder) lenientRequestID(id *RequestID) error {
	if d.peek() == '"' {
		b, err := d.rawString()
		if err != nil {
			return err
		}
		if u, err := uuid.Parse(b); err == nil {
			*id = u
		}
		d.ws()
		return nil
	}
	return d.skip()
}

// optRequestID reads the request_id of a reply: a UUID, or null (zero).
func (d *decoder) optRequestID(id *RequestID) error {
	u, err := d.optID()
	*id = u
	return err
}

func (d *decoder) traceIDBody(what string) (tracing.TraceID, error) {
	var id tracing.TraceID
	err := d.structure(what, []string{"trace_id"}, 1, func(int) error {
		u, err := d.id()
		id = u
		return err
	})
	return id, err
}

func (d *decoder) response() (TracingResponse, error) {
	var resp TracingResponse
	err := d.variant("a response",
		func(tag []byte) (bool, error) {
			switch string(tag) {
			case "Pong":
				resp = Pong{}
				return true, nil
			case "TraceStarted", "EventRecorded", "TraceData", "QueryResults", "FlowVersions",
				"EventNotification", "Error", "TraceStored", "TracesFound", "Metrics":
				return false, nil
			}
			return false, d.unknownVariant("response", tag)
		},
		func(tag []byte) error {
			name := string(tag)
			d.push(name)
			defer d.pop()
			switch name {
			case "TraceStarted":
				id, err := d.traceIDBody("a TraceStarted object")
				resp = TraceStarted{TraceID: id}
				return err
			case "TraceStored":
				id, err := d.traceIDBody("a TraceStored object")
				resp = TraceStored{TraceID: id}
				return err
			case "EventRecorded":
				var r EventRecorded
				err := d.structure("an EventRecorded object", []string{"success", "error"}, 0b01, func(i int) error {
					var err error
					if i == 0 {
						r.Success, err = d.boolean()
					} else {
						r.Error, err = d.optStr()
					}
					return err
				})
				resp = r
				return err
			case "TraceData":
				var r TraceData
				err := d.structure("a TraceData object", []string{"trace", "request_id"}, 0, func(i int) error {
					if i == 1 {
						return d.optRequestID(&r.RequestID)
					}
					if d.null() {
						return nil
					}
					r.Trace = &tracing.FlowTrace{}
					return d.flowTrace(r.Trace)
				})
				resp = r
				return err
			case "QueryResults", "TracesFound":
				var r QueryResults
				names := []string{"traces", "total_count", "request_id"}
				required := uint32(0b011)
				if name == "TracesFound" {
					names, required = names[:1], 1
				}
				err := d.structure("a "+name+" object", names, required, func(i int) error {
					switch i {
					case 1:
						var err error
						r.TotalCount, err = d.uint(math.MaxUint64)
						return err
					case 2:
						return d.optRequestID(&r.RequestID)
					}
					r.Traces = []tracing.FlowTrace{}
					return d.array("an array of traces", func() error {
						r.Traces = append(r.Traces, tracing.FlowTrace{})
						return d.flowTrace(&r.Traces[len(r.Traces)-1])
					})
				})
				if name == "TracesFound" {
					resp = TracesFound{Traces: r.Traces}
				} else {
					resp = r
				}
				return err
			case "FlowVersions":
				var r FlowVersions
				err := d.structure("a FlowVersions object", []string{"versions"}, 1, func(int) error {
					r.Versions = []tracing.FlowVersion{}
					return d.array("an array of versions", func() error {
						r.Versions = append(r.Versions, tracing.FlowVersion{})
						return d.flowVersion(&r.Versions[len(r.Versions)-1])
					})
				})
				resp = r
				return err
			case "EventNotification":
				r := &EventNotification{}
				d.noIntern = true // one event: its strings do not repeat
				err := d.traceEvent("an EventNotification object", &r.TraceID, &r.Event)
				resp = *r
				return err
			case "Error":
				var r ErrorResponse
				err := d.structure("an Error object", []string{"message", "code"}, 1, func(i int) error {
					if i == 0 {
						var err error
						r.Message, err = d.str()
						return err
					}
					// A code that is not a string of the protocol's codes
					// makes the reply the legacy shape, which has no code.
					if d.peek() == '"' {
						s, err := d.rawString()
						if err != nil {
							return err
						}
						if c := ErrorCode(s); c.Valid() {
							r.Code = c
						}
						d.ws()
						return nil
					}
					return d.skip()
				})
				resp = r
				return err
			case "Metrics":
				var r Metrics
				err := d.structure("a Metrics object", []string{"data"}, 1, func(int) error {
					start := d.pos
					if err := d.skip(); err != nil {
						return err
					}
					raw := d.data[start:d.pos]
					for len(raw) > 0 && strings.IndexByte(" \t\r\n", raw[len(raw)-1]) >= 0 {
						raw = raw[:len(raw)-1]
					}
					r.Data = append([]byte(nil), raw...)
					return nil
				})
				resp = r
				return err
			}
			return d.unknownVariant("response", tag)
		})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// array reads a JSON array, calling elem for each element (the path has its
// index).
func (d *decoder) array(what string, elem func() error) error {
	if err := d.openArray(what); err != nil {
		return err
	}
	for i := 0; ; i++ {
		more, err := d.nextElem(i == 0)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		d.pushIdx(i)
		if err := elem(); err != nil {
			return err
		}
		d.pop()
	}
}

var eventFields = []string{"event_id", "timestamp", "event_type", "actor_id", "data", "causality"}

// traceEvent reads the {"trace_id", "event"} body that RecordEvent and
// EventNotification share.
func (d *decoder) traceEvent(what string, id *tracing.TraceID, ev *tracing.TraceEvent) error {
	return d.structure(what, []string{"trace_id", "event"}, 0b11, func(i int) error {
		if i == 0 {
			var err error
			*id, err = d.id()
			return err
		}
		return d.event(ev)
	})
}

func (d *decoder) event(ev *tracing.TraceEvent) error {
	return d.structure("a TraceEvent object", eventFields, 0b111111, func(i int) error {
		var err error
		switch i {
		case 0:
			var u [16]byte
			u, err = d.id()
			ev.EventID = u
		case 1:
			ev.Timestamp, err = d.timestamp()
		case 2:
			err = d.eventType(&ev.Type)
		case 3:
			ev.ActorID, err = d.str()
		case 4:
			err = d.eventData(&ev.Data)
		case 5:
			err = d.causality(&ev.Causality)
		}
		return err
	})
}

func (d *decoder) eventType(t *tracing.TraceEventType) error {
	*t = tracing.TraceEventType{}
	return d.variant("an event type",
		func(tag []byte) (bool, error) {
			switch string(tag) {
			case "DataFlow":
				t.Kind = tracing.KindDataFlow
				return false, nil
			case "Custom":
				t.Kind = tracing.KindCustom
				return false, nil
			}
			for k := tracing.KindActorCreated; k <= tracing.KindNetworkEvent; k++ {
				if k != tracing.KindDataFlow && k.String() == string(tag) {
					t.Kind = k
					return true, nil
				}
			}
			return false, d.unknownVariant("event type", tag)
		},
		func(tag []byte) error {
			if t.Kind == tracing.KindCustom {
				d.push("Custom")
				defer d.pop()
				var err error
				t.Name, err = d.str()
				return err
			}
			d.push("DataFlow")
			defer d.pop()
			return d.structure("a DataFlow object", []string{"to_actor", "to_port"}, 0b11, func(i int) error {
				var err error
				if i == 0 {
					t.ToActor, err = d.str()
				} else {
					t.ToPort, err = d.str()
				}
				return err
			})
		})
}

var dataFields = []string{"port", "message", "state_diff", "error", "performance_metrics", "custom_attributes"}

func (d *decoder) eventData(data *tracing.TraceEventData) error {
	return d.structure("a data object", dataFields, 0b110000, func(i int) error {
		var err error
		switch i {
		case 0:
			data.Port, err = d.optStr()
		case 1:
			if d.null() {
				data.HasMessage = false
				return nil
			}
			data.HasMessage = true
			err = d.messageSnapshot(&data.Message)
		case 2:
			if d.null() {
				data.StateDiff = tracing.StateDiff{}
				return nil
			}
			err = d.stateDiff(&data.StateDiff)
		case 3:
			data.Error, err = d.optStr()
		case 4:
			err = d.perf(&data.PerformanceMetrics)
		case 5:
			err = d.attributes(&data.CustomAttributes)
		}
		return err
	})
}

var snapshotFields = []string{"message_type", "size_bytes", "checksum", "serialized_data", "content_codec", "content_format_version", "stored_bytes"}

// messageSnapshot reads a MessageSnapshot in either generation's form:
// serialized_data may be absent (nil), and the generation-2 fields are
// optional.
func (d *decoder) messageSnapshot(m *tracing.MessageSnapshot) error {
	*m = tracing.MessageSnapshot{}
	return d.structure("a MessageSnapshot object", snapshotFields, 0b0111, func(i int) error {
		var err error
		switch i {
		case 0:
			m.MessageType, err = d.str()
		case 1:
			m.SizeBytes, err = d.uint(math.MaxUint64)
		case 2:
			m.Checksum, err = d.str()
		case 3:
			m.SerializedData, err = d.bytes()
		case 4:
			m.ContentCodec, err = d.str()
		case 5:
			var n uint64
			n, err = d.uint(math.MaxUint32)
			m.ContentFormatVersion = uint32(n)
		case 6:
			if d.null() {
				return nil
			}
			m.StoredBytes, err = d.uint(math.MaxUint64)
			m.HasStoredBytes = err == nil
		}
		return err
	})
}

var stateDiffFields = []string{"before", "after", "diff_type"}

func (d *decoder) stateDiff(s *tracing.StateDiff) error {
	return d.structure("a StateDiff object", stateDiffFields, 0b110, func(i int) error {
		var err error
		switch i {
		case 0:
			if d.null() {
				s.Before = nil
				return nil
			}
			s.Before, err = d.bytes()
		case 1:
			s.After, err = d.bytes()
		case 2:
			err = d.variant("a diff type", func(tag []byte) (bool, error) {
				switch string(tag) {
				case "Full":
					s.DiffType = tracing.DiffFull
				case "Incremental":
					s.DiffType = tracing.DiffIncremental
				case "MemoryOnly":
					s.DiffType = tracing.DiffMemoryOnly
				default:
					return false, d.unknownVariant("diff type", tag)
				}
				return true, nil
			}, nil)
		}
		return err
	})
}

var perfFields = []string{"execution_time_ns", "memory_usage_bytes", "cpu_usage_percent", "queue_depth", "throughput_msgs_per_sec"}

// perf reads PerformanceMetrics in either generation's form: a field that
// is null or absent is not measured (generation 2), a number is measured.
func (d *decoder) perf(p *tracing.PerformanceMetrics) error {
	var nulls tracing.MetricFields
	err := d.structure("a PerformanceMetrics object", perfFields, 0, func(i int) error {
		if d.null() {
			nulls |= 1 << i
			return nil
		}
		var err error
		switch i {
		case 0:
			p.ExecutionTimeNs, err = d.uint(math.MaxUint64)
		case 1:
			p.MemoryUsageBytes, err = d.uint(math.MaxUint64)
		case 2:
			p.CPUUsagePercent, err = d.float()
		case 3:
			p.QueueDepth, err = d.uint(math.MaxUint64)
		case 4:
			p.ThroughputMsgsPerSec, err = d.float()
		}
		return err
	})
	if err != nil {
		return err
	}
	p.Unmeasured = nulls | tracing.AllMetricFields&^tracing.MetricFields(d.lastSeen)
	return nil
}

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

// attributes reads a JSON object into as (replacing its content). The
// first attributes are decoded into as's inline storage, so a small object
// allocates nothing beyond its strings.
func (d *decoder) attributes(as *attr.Set) error {
	as.Reset()
	if err := d.openObject("an object"); err != nil {
		return err
	}
	ab := attrBuilder{attrs: d.attrs[:0]}
	d.attrs = nil // a nested object must not share it
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
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
		key := d.intern(k)
		d.push(key)
		v, err := d.value()
		d.pop()
		if err != nil {
			return err
		}
		ab.set(key, v)
	}
}

var causalityFields = []string{"parent_event_id", "root_cause_event_id", "dependency_chain", "span_id"}

func (d *decoder) causality(c *tracing.CausalityInfo) error {
	return d.structure("a CausalityInfo object", causalityFields, 0b1110, func(i int) error {
		var err error
		switch i {
		case 0:
			var u [16]byte
			u, err = d.optID()
			c.ParentEventID = u
		case 1:
			var u [16]byte
			u, err = d.id()
			c.RootCauseEventID = u
		case 2:
			c.DependencyChain = []tracing.EventID{}
			err = d.array("an array of event ids", func() error {
				u, err := d.id()
				c.DependencyChain = append(c.DependencyChain, u)
				return err
			})
		case 3:
			c.SpanID, err = d.str()
		}
		return err
	})
}

var flowTraceFields = []string{"trace_id", "flow_id", "execution_id", "version", "start_time", "end_time", "status", "events", "metadata"}

func (d *decoder) flowTrace(t *tracing.FlowTrace) error {
	return d.structure("a FlowTrace object", flowTraceFields, 0b111011111, func(i int) error {
		var err error
		switch i {
		case 0:
			var u [16]byte
			u, err = d.id()
			t.TraceID = u
		case 1:
			var s string
			s, err = d.str()
			t.FlowID = tracing.FlowID(s)
		case 2:
			var u [16]byte
			u, err = d.id()
			t.ExecutionID = u
		case 3:
			err = d.flowVersion(&t.Version)
		case 4:
			t.StartTime, err = d.timestamp()
		case 5:
			if d.null() {
				t.EndTime = time.Time{}
				return nil
			}
			t.EndTime, err = d.timestamp()
		case 6:
			err = d.status(&t.Status)
		case 7:
			t.Events = []tracing.TraceEvent{}
			err = d.array("an array of events", func() error {
				t.Events = append(t.Events, tracing.TraceEvent{})
				return d.event(&t.Events[len(t.Events)-1])
			})
		case 8:
			err = d.metadata(&t.Metadata)
		}
		return err
	})
}

var versionFields = []string{"major", "minor", "patch", "git_hash", "timestamp"}

func (d *decoder) flowVersion(v *tracing.FlowVersion) error {
	return d.structure("a FlowVersion object", versionFields, 0b10111, func(i int) error {
		var err error
		var n uint64
		switch i {
		case 0:
			n, err = d.uint(math.MaxUint32)
			v.Major = uint32(n)
		case 1:
			n, err = d.uint(math.MaxUint32)
			v.Minor = uint32(n)
		case 2:
			n, err = d.uint(math.MaxUint32)
			v.Patch = uint32(n)
		case 3:
			v.GitHash, err = d.optStr()
		case 4:
			v.Timestamp, err = d.timestamp()
		}
		return err
	})
}

func (d *decoder) status(s *tracing.ExecutionStatus) error {
	*s = tracing.ExecutionStatus{}
	return d.variant("an execution status",
		func(tag []byte) (bool, error) {
			for k := tracing.StatusPending; k <= tracing.StatusCancelled; k++ {
				if k.String() == string(tag) {
					s.Kind = k
					return k != tracing.StatusFailed, nil
				}
			}
			return false, d.unknownVariant("execution status", tag)
		},
		func([]byte) error {
			d.push("Failed")
			defer d.pop()
			return d.structure("a Failed object", []string{"error"}, 1, func(int) error {
				var err error
				s.Error, err = d.str()
				return err
			})
		})
}

var metadataFields = []string{"user_id", "session_id", "environment", "hostname", "process_id", "thread_id", "tags"}

func (d *decoder) metadata(m *tracing.TraceMetadata) error {
	return d.structure("a TraceMetadata object", metadataFields, 0b1111100, func(i int) error {
		var err error
		switch i {
		case 0:
			m.UserID, err = d.optStr()
		case 1:
			m.SessionID, err = d.optStr()
		case 2:
			m.Environment, err = d.str()
		case 3:
			m.Hostname, err = d.str()
		case 4:
			var n uint64
			n, err = d.uint(math.MaxUint32)
			m.ProcessID = uint32(n)
		case 5:
			m.ThreadID, err = d.str()
		case 6:
			m.Tags = map[string]string{}
			if err = d.openObject("an object of strings"); err != nil {
				return err
			}
			for first := true; ; first = false {
				k, more, err := d.nextKey(first)
				if err != nil || !more {
					return err
				}
				key := d.intern(k)
				d.push(key)
				v, err := d.str()
				d.pop()
				if err != nil {
					return err
				}
				m.Tags[key] = v
			}
		}
		return err
	})
}

var queryFields = []string{"flow_id", "execution_id", "time_range", "status", "actor_filter", "limit", "offset"}

func (d *decoder) traceQuery(q *TraceQuery) error {
	return d.structure("a TraceQuery object", queryFields, 0, func(i int) error {
		var err error
		if d.null() {
			return nil
		}
		switch i {
		case 0:
			var s string
			s, err = d.str()
			q.FlowID = tracing.FlowID(s)
		case 1:
			var u [16]byte
			u, err = d.id()
			q.ExecutionID = u
		case 2:
			n := 0
			err = d.array("an array of two timestamps", func() error {
				if n == 2 {
					return d.errorf("want two timestamps, got more")
				}
				t, err := d.timestamp()
				q.TimeRange[n] = t
				n++
				return err
			})
			if err == nil && n != 2 {
				err = d.errorf("want two timestamps, got %d", n)
			}
			q.HasTimeRange = err == nil
		case 3:
			q.Status = &tracing.ExecutionStatus{}
			err = d.status(q.Status)
		case 4:
			q.ActorFilter, err = d.str()
		case 5:
			q.Limit, err = d.uint(math.MaxUint64)
		case 6:
			q.Offset, err = d.uint(math.MaxUint64)
		}
		return err
	})
}

var filterFields = []string{"flow_ids", "actor_ids", "event_types", "status_filter"}

func (d *decoder) filters(f *SubscriptionFilters) error {
	return d.structure("a SubscriptionFilters object", filterFields, 0, func(i int) error {
		if d.null() {
			return nil
		}
		switch i {
		case 0:
			f.FlowIDs = []tracing.FlowID{}
			return d.array("an array of strings", func() error {
				s, err := d.str()
				f.FlowIDs = append(f.FlowIDs, tracing.FlowID(s))
				return err
			})
		case 1:
			f.ActorIDs = []string{}
			return d.array("an array of strings", func() error {
				s, err := d.str()
				f.ActorIDs = append(f.ActorIDs, s)
				return err
			})
		case 2:
			f.EventTypes = []tracing.TraceEventType{}
			return d.array("an array of event types", func() error {
				f.EventTypes = append(f.EventTypes, tracing.TraceEventType{})
				return d.eventType(&f.EventTypes[len(f.EventTypes)-1])
			})
		default:
			f.StatusFilter = []tracing.ExecutionStatus{}
			return d.array("an array of statuses", func() error {
				f.StatusFilter = append(f.StatusFilter, tracing.ExecutionStatus{})
				return d.status(&f.StatusFilter[len(f.StatusFilter)-1])
			})
		}
	})
}

// DecodeResponseFrame reads a server message from one WebSocket frame: a
// text frame (binary false) is JSON text (see DecodeResponse). A binary
// frame is JSON compressed with the algorithm the server is configured
// with, which the server does not announce, so it is told from the bytes:
// zstd (one frame, with or without a content-size field) and gzip (one
// stream) by their magic numbers, lz4 (one raw block without a size
// prefix, the form of the server's replies) and brotli (a raw stream),
// which have none, by trying both. The size-prepended lz4 form a client
// sends (4 bytes little-endian uncompressed length, then the block) is
// accepted too when nothing else decodes the frame and the block decodes
// to exactly the declared length.
//
// A compressed frame may hold up to 64 MiB of JSON, the largest message a
// Reflow server reads (its replies can exceed the protocol's 16 MiB, e.g.
// a QueryResults of many traces); a frame that decodes to more returns an
// error wrapping ErrMalformed and compress's ErrTooLarge, and stops
// decoding at the limit. A frame that does not decompress returns an error
// wrapping ErrMalformed and compress's ErrCorrupt; one that decompresses to
// something other than a message, as DecodeResponse. It never panics. It is
// safe for concurrent use: the decoders are pooled, so that only the first
// frames pay for building them.
func DecodeResponseFrame(binary bool, data []byte) (TracingResponse, error) {
	if !binary {
		return DecodeResponse(data)
	}
	d := detectPool.Get().(*compress.Detect)
	text, _, err := d.DecodeReply(nil, data)
	detectPool.Put(d)
	if err == nil {
		return DecodeResponse(text)
	}
	if plausiblePrefix(data) {
		// LZ4 is a known algorithm: NewCodec does not fail for it.
		if lz4, perr := compress.NewCodec(compress.LZ4); perr == nil {
			if text, perr := lz4.DecodeRequest(nil, data); perr == nil {
				return DecodeResponse(text)
			}
		}
	}
	// A pooled Detect tries lz4 and brotli in the order of its last
	// success, which decides the error reported for a frame that neither
	// decodes; a fresh one reports the same error for the same frame.
	var fresh compress.Detect
	if _, _, ferr := fresh.DecodeReply(nil, data); ferr != nil {
		err = ferr
	}
	return nil, fmt.Errorf("%w: binary frame: %w", tracing.ErrMalformed, err)
}

// detectPool holds the decoders of DecodeResponseFrame. A Detect keeps no
// goroutine, so one dropped by the pool needs no closing.
var detectPool = sync.Pool{New: func() any { return new(compress.Detect) }}

// plausiblePrefix reports whether data starts with a 4-byte little-endian
// length that could be the uncompressed size of a message.
func plausiblePrefix(data []byte) bool {
	if len(data) < 5 {
		return false
	}
	n := binary.LittleEndian.Uint32(data)
	return n > 0 && n <= compress.MaxMessageSize
}
