package strictjson

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestDecodeTimestamps checks the timestamp forms the server's date
// library writes beyond RFC 3339's: leap seconds and signed years.
func TestDecodeTimestamps(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time // zero: rejected
	}{
		{"2026-11-26T10:30:00Z", time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)},
		{"2026-11-26T10:30:00.123456789Z", time.Date(2026, 11, 26, 10, 30, 0, 123456789, time.UTC)},
		{"2026-11-26T10:30:00.1234567891234Z", time.Date(2026, 11, 26, 10, 30, 0, 123456789, time.UTC)},
		{"2026-11-26t10:30:00.5z", time.Date(2026, 11, 26, 10, 30, 0, 5e8, time.UTC)},
		{"2026-11-26T11:30:00+01:00", time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)},
		{"2026-11-26T10:00:00.25-00:30", time.Date(2026, 11, 26, 10, 30, 0, 25e7, time.UTC)},
		// A leap second is the first second of the next minute.
		{"2016-12-31T23:59:60Z", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2016-12-31T23:59:60.5Z", time.Date(2017, 1, 1, 0, 0, 0, 5e8, time.UTC)},
		{"2016-12-31T23:59:60.999999999Z", time.Date(2017, 1, 1, 0, 0, 0, 999999999, time.UTC)},
		{"2015-06-30T23:59:60.123Z", time.Date(2015, 7, 1, 0, 0, 0, 123e6, time.UTC)},
		{"2026-11-26T10:30:60Z", time.Date(2026, 11, 26, 10, 31, 0, 0, time.UTC)},
		{"2017-01-01T00:59:60+01:00", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)},
		// Signed years, chrono's form outside 0000..9999.
		{"+10000-01-01T00:00:00Z", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"+262142-12-31T23:59:59.999999999Z", time.Date(262142, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"-0001-01-01T00:00:00Z", time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"-0004-02-29T12:00:00.5Z", time.Date(-4, 2, 29, 12, 0, 0, 5e8, time.UTC)},
		{"-262143-01-01T00:00:00Z", time.Date(-262143, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"+2026-11-26T10:30:00Z", time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)},
		{"0000-01-01T00:00:00Z", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"+10000-01-01T23:59:60Z", time.Date(10000, 1, 2, 0, 0, 0, 0, time.UTC)},
		// Rejected.
		{"2026-11-26T10:30:61Z", time.Time{}},
		{"2026-11-26T24:00:00Z", time.Time{}},
		{"2026-11-26T10:60:00Z", time.Time{}},
		{"10000-01-01T00:00:00Z", time.Time{}},
		{"-001-01-01T00:00:00Z", time.Time{}},
		{"+-0001-01-01T00:00:00Z", time.Time{}},
		{"-0001-02-29T00:00:00Z", time.Time{}},
		{"-0004-02-30T00:00:00Z", time.Time{}},
		{"2026-11-26T10:30:00.Z", time.Time{}},
		{"2026-11-26T10:30:00", time.Time{}},
		{"2026-11-26T10:30:00+0100", time.Time{}},
		{"2026-11-26T10:30:00Z ", time.Time{}},
		{"+1000000000-01-01T00:00:00Z", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			d := newDecoder(strconv.Quote(tc.in))
			got, err := d.Time()
			if tc.want.IsZero() {
				if err == nil || !errors.Is(err, errTest) {
					t.Fatalf("got %v, %v; want rejected", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			// It re-encodes to a timestamp that reads back the same.
			out := AppendTime(nil, got, nil)
			d = newDecoder(string(out))
			back, err := d.Time()
			if err != nil || !back.Equal(got) {
				t.Fatalf("%s read back as %v, %v", out, back, err)
			}
		})
	}
}

func TestEncodeTimes(t *testing.T) {
	tests := []struct {
		name    string
		in      time.Time
		want    string
		clamped uint64
	}{
		{"zero", time.Time{}, `"0001-01-01T00:00:00Z"`, 0},
		{"nanoseconds", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), `"2026-01-02T03:04:05.000000006Z"`, 0},
		{"milliseconds", time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC), `"2026-01-02T03:04:05.500Z"`, 0},
		{"microseconds", time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC), `"2026-01-02T03:04:05.123456Z"`, 0},
		{"other zone", time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), `"2026-01-02T02:04:05Z"`, 0},
		{"year 0", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), `"0000-01-01T00:00:00Z"`, 0},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), `"9999-12-31T23:59:59.999999999Z"`, 0},
		{"year -1", time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), `"-0001-12-31T23:59:59Z"`, 0},
		{"year -5", time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), `"-0005-01-01T00:00:00Z"`, 0},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), `"+10000-01-01T00:00:00Z"`, 0},
		{"year 12000", time.Date(12000, 2, 29, 1, 2, 3, 4e6, time.UTC), `"+12000-02-29T01:02:03.004Z"`, 0},
		{"year -12345", time.Date(-12345, 6, 7, 8, 9, 10, 0, time.UTC), `"-12345-06-07T08:09:10Z"`, 0},
		{"last year", time.Date(262142, 12, 31, 23, 59, 59, 999999999, time.UTC), `"+262142-12-31T23:59:59.999999999Z"`, 0},
		{"first year", time.Date(-262143, 1, 1, 0, 0, 0, 0, time.UTC), `"-262143-01-01T00:00:00Z"`, 0},
		{"before the first year", time.Date(-300000, 1, 1, 0, 0, 0, 0, time.UTC), `"-262143-01-01T00:00:00Z"`, 1},
		{"after the last year", time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC), `"+262142-12-31T23:59:59.999999999Z"`, 1},
		{"monotonic stripped", time.Unix(1, 0).UTC(), `"1970-01-01T00:00:01Z"`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var clamped uint64
			got := string(AppendTime(nil, tc.in, &clamped))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			if clamped != tc.clamped {
				t.Fatalf("clamped = %d", clamped)
			}
			d := newDecoder(got)
			back, err := d.Time()
			if err != nil {
				t.Fatal(err)
			}
			if again := string(AppendTime(nil, back, nil)); again != got {
				t.Fatalf("round trip %s -> %s", got, again)
			}
		})
	}
}
