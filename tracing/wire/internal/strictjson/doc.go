// Package strictjson reads and writes JSON as strictly as the Reflow
// tracing server's reader (serde_json, with chrono for timestamps), without
// reflection: it is the JSON layer under package wire, which decides what
// the messages are made of.
//
// A [Decoder] reads one JSON text value by value, as the caller expects
// them: strings that must be valid UTF-8, non-negative integers in range,
// finite floats, hyphenated UUIDs, RFC 3339 timestamps in chrono's forms,
// arrays of bytes, attribute values ([attr.Value], [attr.Set]), and
// objects and externally tagged enums through [Decoder.Struct] and
// [Decoder.Variant]. It accepts at most 127 levels of nesting. Its errors
// wrap an error of the caller's and name the path of the offending value,
// as in "<error>: event.data.queue_depth: want a non-negative integer,
// got -1".
//
// The Append functions write the other way, to a byte slice and without
// allocating beyond its growth, only JSON such a reader accepts: strings
// with invalid UTF-8 replaced, non-finite floats as 0.0, timestamps clamped
// to the years chrono holds. Those that may have to change their input
// count each change in a counter the caller passes, so that it can report
// them.
//
// This package imports nothing of the SDK's but the attr and uuid
// packages.
package strictjson
