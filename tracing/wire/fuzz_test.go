package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// seedGolden adds every file of testdata/ whose name has prefix to f.
func seedGolden(f *testing.F, prefixes ...string) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	var seeds [][]byte
	for _, p := range paths {
		base := filepath.Base(p)
		for _, prefix := range prefixes {
			if strings.HasPrefix(base, prefix) {
				data, err := os.ReadFile(p)
				if err != nil {
					f.Fatal(err)
				}
				seeds = append(seeds, data)
			}
		}
	}
	if len(seeds) == 0 {
		f.Fatalf("no seeds with prefixes %q in testdata", prefixes)
	}
	return seeds
}

// chronoTimes are timestamps the server's date library writes beyond
// RFC 3339: leap seconds and signed years.
var chronoTimes = []string{
	`"2016-12-31T23:59:60Z"`, `"2016-12-31T23:59:60.999999999Z"`, `"+10000-01-01T00:00:00Z"`,
	`"-0001-12-31T23:59:59.5Z"`, `"+262142-12-31T23:59:60.1Z"`,
}

// withChronoTimes returns seeds with their first timestamp replaced by each
// of chronoTimes.
func withChronoTimes(seeds [][]byte) [][]byte {
	var out [][]byte
	for _, s := range seeds {
		i := bytes.Index(s, []byte(`"timestamp":"`))
		if i < 0 {
			continue
		}
		i += len(`"timestamp":`)
		j := i + 1 + bytes.IndexByte(s[i+1:], '"') + 1
		for _, ts := range chronoTimes {
			out = append(out, slices.Concat(s[:i], []byte(ts), s[j:]))
		}
	}
	return out
}

// FuzzDecodeRequest checks that DecodeRequest never panics and that what it
// accepts re-encodes to a message it accepts again, unchanged.
func FuzzDecodeRequest(f *testing.F) {
	seeds := seedGolden(f, "request_", "protocol_example")
	for _, s := range append(seeds, withChronoTimes(seeds)...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeRequest(data)
		if err != nil {
			return
		}
		var e Encoder
		out := e.AppendRequest(nil, req)
		req2, err := DecodeRequest(out)
		if err != nil {
			t.Fatalf("re-encoded request rejected: %v\n%s", err, out)
		}
		if again := e.AppendRequest(nil, req2); !bytes.Equal(again, out) {
			t.Fatalf("encode(decode(encode(x))) != encode(x):\n%s\n%s", again, out)
		}
	})
}

// FuzzDecodeResponse checks that DecodeResponse never panics and that what
// it accepts re-encodes to a message it accepts again, unchanged.
func FuzzDecodeResponse(f *testing.F) {
	seeds := seedGolden(f, "response_")
	for _, s := range append(seeds, withChronoTimes(seeds)...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := DecodeResponse(data)
		if err != nil {
			return
		}
		var e Encoder
		out := e.AppendResponse(nil, resp)
		resp2, err := DecodeResponse(out)
		if err != nil {
			t.Fatalf("re-encoded response rejected: %v\n%s", err, out)
		}
		if again := e.AppendResponse(nil, resp2); !bytes.Equal(again, out) {
			t.Fatalf("encode(decode(encode(x))) != encode(x):\n%s\n%s", again, out)
		}
	})
}

// FuzzDecodeResponseFrame checks that decoding any frame, compressed or
// not, never panics.
func FuzzDecodeResponseFrame(f *testing.F) {
	codecs := make([]*compress.Codec, 0, 4)
	for _, a := range []compress.Algorithm{compress.Zstd, compress.LZ4, compress.Gzip, compress.Brotli} {
		c, err := compress.NewCodec(a)
		if err != nil {
			f.Fatal(err)
		}
		codecs = append(codecs, c)
	}
	for _, s := range seedGolden(f, "response_") {
		f.Add(false, s)
		for _, c := range codecs {
			reply, err := c.AppendReply(nil, s)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(true, reply)
		}
		// The size-prefixed lz4 form a client sends.
		prefixed, err := codecs[1].AppendRequest(nil, s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(true, prefixed)
	}
	f.Add(true, []byte{0xff, 0xff, 0xff, 0x00, 0x10})
	f.Fuzz(func(t *testing.T, binary bool, data []byte) {
		resp, err := DecodeResponseFrame(binary, data)
		if err == nil && resp == nil {
			t.Fatal("nil response without an error")
		}
	})
}

// FuzzEncodeEvent builds an event from fuzzed strings, numbers and bytes and
// checks that the encoder's output is valid JSON the strict decoder
// accepts, and that encode(decode(encode(x))) == encode(x).
func FuzzEncodeEvent(f *testing.F) {
	f.Add(uint8(tracing.KindDataFlow), "sensor", "out", "validator", "k", "v", []byte("hi"), uint64(1500), int64(-3), 0.5, 12.5, int64(1764153000), uint16(3), false)
	f.Add(uint8(tracing.KindCustom), "a\xff", "", "\x00\"\\", "event_subtype", "\xed\xa0\x80", []byte(nil), uint64(math.MaxUint64), int64(math.MinInt64), math.NaN(), math.Inf(1), int64(-1e12), uint16(200), true)
	f.Add(uint8(0), "", "", "", "", "", []byte{}, uint64(0), int64(0), math.MaxFloat64, -math.MaxFloat64, int64(1e15), uint16(0), false)
	// Years outside 0000..9999 (10000, -1) and beyond what the server holds.
	f.Add(uint8(tracing.KindActorStarted), "a", "p", "b", "c", "d", []byte{}, uint64(2), int64(7), 1.5, 2.5, int64(253402300800), uint16(0), false)
	f.Add(uint8(tracing.KindActorStarted), "a", "p", "b", "c", "d", []byte{}, uint64(2), int64(7), 1.5, 2.5, int64(-62167219200-86400), uint16(0), false)
	f.Add(uint8(tracing.KindActorStarted), "a", "p", "b", "c", "d", []byte{}, uint64(2), int64(7), 1.5, 2.5, int64(1e16), uint16(0), false)
	// Not-measured metrics and the generation-2 snapshot fields, in both forms.
	f.Add(uint8(tracing.KindMessageSent), "a", "none", "b", "c", "d", []byte("x"), uint64(1<<40|6), int64(7), 1.5, 2.5, int64(1764153000), uint16(0b10101<<8|1), true)
	f.Add(uint8(tracing.KindMessageSent|0x10), "a", "lz4", "b", "c", "d", []byte(nil), uint64(1<<40|6), int64(7), 1.5, 2.5, int64(1764153000), uint16(0b11111<<8), true)
	f.Add(uint8(tracing.KindDataFlow|0x10), "a", "", "b", "c", "d", []byte{}, uint64(8), int64(7), 1.5, 2.5, int64(1764153000), uint16(0b01010<<8|3), false)
	f.Add(uint8(tracing.KindDataFlow|0x30), "a", "", "b", "c", "d", []byte(nil), uint64(8), int64(7), 1.5, 2.5, int64(1764153000), uint16(0), false)
	f.Add(uint8(tracing.KindMessageSent|0x30), "a", "zstd", "b", "c", "d", []byte("x"), uint64(1<<40|6), int64(7), 1.5, 2.5, int64(1764153000), uint16(0), true)
	f.Fuzz(func(t *testing.T, kind uint8, actor, port, other, key, sval string, data []byte,
		u uint64, i int64, f1, f2 float64, unix int64, depth uint16, typed bool) {
		ev := tracing.TraceEvent{
			EventID:   tracing.EventID{byte(u), byte(i), 7},
			Timestamp: time.Unix(unix, i%1e9),
			Type:      tracing.TraceEventType{Kind: tracing.EventKind(kind % 16), ToActor: other, ToPort: port, Name: sval},
			ActorID:   actor,
			Data: tracing.TraceEventData{
				Port:       port,
				Error:      other,
				HasMessage: u%2 == 0,
				Message: tracing.MessageSnapshot{
					MessageType: sval, SizeBytes: u, Checksum: key, SerializedData: data,
					ContentCodec: port, ContentFormatVersion: uint32(u >> 32), StoredBytes: u >> 3, HasStoredBytes: typed,
				},
				StateDiff: tracing.StateDiff{Before: data, After: data, DiffType: tracing.StateDiffType(u % 5)},
				PerformanceMetrics: tracing.PerformanceMetrics{
					ExecutionTimeNs: u, MemoryUsageBytes: uint64(i), CPUUsagePercent: f1, QueueDepth: u >> 1, ThroughputMsgsPerSec: f2,
					Unmeasured: tracing.MetricFields(depth >> 8),
				},
			},
			Causality: tracing.CausalityInfo{ParentEventID: tracing.EventID{byte(i)}, DependencyChain: []tracing.EventID{{1}, {byte(u)}}, SpanID: other},
		}
		nested := attr.StringValue(sval)
		for range depth % 100 {
			if depth%2 == 0 {
				nested = attr.ArrayValue(nested, attr.FloatValue(f1))
			} else {
				nested = attr.ObjectValue(attr.Any(key, nested), attr.Any(key, attr.IntValue(i)))
			}
		}
		ev.Data.CustomAttributes.Add(
			attr.String(key, sval), attr.Int64(actor, i), attr.Uint64(port, u), attr.Float64(other, f2), attr.Bool("b", typed),
			attr.Any("nested", nested), attr.Any(sval, attr.ObjectValue(attr.String(key, actor), attr.String(key, port))),
		)
		// Bit 4 of kind picks the generation-2 form, bit 5 the form of a
		// server's replies, with every snapshot field.
		e := Encoder{CustomEventType: typed, AllSnapshotFields: kind&0x20 != 0}
		if kind&0x10 != 0 {
			e.Protocol = transport.ProtocolV2
		}
		out := e.AppendRecordEvent(nil, tracing.TraceID{byte(u)}, &ev)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
		req, err := DecodeRequest(out)
		if err != nil {
			t.Fatalf("rejected: %v\n%s", err, out)
		}
		back := req.(RecordEvent)
		if again := e.AppendRecordEvent(nil, back.TraceID, &back.Event); !bytes.Equal(again, out) {
			t.Fatalf("encode(decode(encode(x))) != encode(x):\n%s\n%s", again, out)
		}
		var generic any
		if err := json.Unmarshal(out, &generic); err != nil {
			t.Fatalf("encoding/json rejects the output: %v", err)
		}
	})
}

// TestChronoTimeSeeds checks that the timestamp seeds of the fuzz targets
// are accepted, so that they reach the round trip.
func TestChronoTimeSeeds(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "protocol_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	seeds := withChronoTimes([][]byte{data})
	if len(seeds) != len(chronoTimes) {
		t.Fatalf("%d seeds", len(seeds))
	}
	for i, s := range seeds {
		if !bytes.Contains(s, []byte(chronoTimes[i])) {
			t.Fatalf("seed %d lacks %s", i, chronoTimes[i])
		}
		if _, err := DecodeRequest(s); err != nil {
			t.Errorf("%s: %v", chronoTimes[i], err)
		}
	}
}
