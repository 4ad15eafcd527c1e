package strictjson

import "time"

// Time reads an RFC 3339 timestamp, returned in UTC. Besides the
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
func (d *Decoder) Time() (time.Time, error) {
	b, err := d.RawString()
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
			return time.Time{}, d.Errorf("want an RFC 3339 timestamp, got %q", b)
		}
		t = t.UTC()
	}
	d.SkipSpace()
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

// Limits of the timestamps the server can read: the years its date type
// (chrono's) holds in every release, -262143 to 262142. Years outside
// 0000..9999 are written signed, as chrono writes them.
var (
	minTime = time.Date(-262143, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(262142, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// AppendTime appends t in UTC as a quoted RFC 3339 timestamp with 0, 3, 6
// or 9 fraction digits and "Z", like the server. A year outside 0000..9999
// is written as chrono writes it, and reads it back: a sign and at least
// four digits ("+10000-01-01T00:00:00Z", "-0001-12-31T23:59:59Z"). Times
// outside the years -262143..262142 are clamped to them, adding one to
// *clamped (unless clamped is nil). A leap second is never written: time.Time has none. What it
// writes, Decoder.Time reads back as the same instant.
func AppendTime(dst []byte, t time.Time, clamped *uint64) []byte {
	if t.Before(minTime) {
		t = minTime
		count(clamped)
	} else if t.After(maxTime) {
		t = maxTime
		count(clamped)
	}
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	dst = append(dst, '"')
	switch {
	case year < 0:
		dst = append(dst, '-')
		dst = appendYear(dst, -year)
	case year > 9999:
		dst = append(dst, '+')
		dst = appendYear(dst, year)
	default:
		dst = appendDigits(dst, year, 4)
	}
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, minute, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	// Like the server: 0, 3, 6 or 9 fraction digits.
	switch ns := t.Nanosecond(); {
	case ns == 0:
	case ns%1e6 == 0:
		dst = append(dst, '.')
		dst = appendDigits(dst, ns/1e6, 3)
	case ns%1e3 == 0:
		dst = append(dst, '.')
		dst = appendDigits(dst, ns/1e3, 6)
	default:
		dst = append(dst, '.')
		dst = appendDigits(dst, ns, 9)
	}
	return append(dst, 'Z', '"')
}

// appendYear writes the non-negative year y with at least 4 digits.
func appendYear(dst []byte, y int) []byte {
	n := 4
	for p := 10000; y >= p && n < 9; p *= 10 {
		n++
	}
	return appendDigits(dst, y, n)
}

// appendDigits writes the non-negative v with exactly n digits.
func appendDigits(dst []byte, v, n int) []byte {
	var buf [9]byte
	for i := n - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:n]...)
}
