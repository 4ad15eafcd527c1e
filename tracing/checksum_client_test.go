package tracing_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/sink/memory"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

// emptyObjectChecksum is Reflow's test vector: the checksum of {}.
const emptyObjectChecksum = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

// checksumClient returns a client writing to s with content capture on and
// the given checksum mode; the consumer waits for Flush (large batches, a
// long timeout), so that a test can act between Record and the sinks.
func checksumClient(t testing.TB, s tracing.Sink, capture bool, mode tracing.ChecksumMode, opts ...tracing.Option) *tracing.TracingClient {
	t.Helper()
	cfg := tracing.DefaultConfig()
	cfg.Privacy.CaptureContent = capture
	cfg.Privacy.Checksums = mode
	cfg.BatchSize = 1 << 12
	cfg.QueueSize = 1 << 13
	cfg.BatchTimeout = time.Hour
	c, err := tracing.New(cfg, append([]tracing.Option{tracing.WithSink(s)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// withContent returns a MessageSent event carrying content.
func withContent(content []byte) tracing.TraceEvent {
	ev := event.MessageSent("a", "out", "Order", uint64(len(content)))
	ev.Data.Message.SerializedData = content
	return ev
}

func flushCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recordOne records ev, flushes and returns the checksum the memory sink
// received.
func recordOne(t *testing.T, c *tracing.TracingClient, m *memory.Sink, ev tracing.TraceEvent) string {
	t.Helper()
	ctx := flushCtx(t)
	id := c.Record(ctx, ev)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, got := range m.Events() {
		if got.EventID == id {
			return got.Data.Message.Checksum
		}
	}
	t.Fatalf("event %v did not reach the sink", id)
	return ""
}

func TestChecksumsReachTheSink(t *testing.T) {
	canonical, err := tracing.ContentChecksum([]byte(`{"a":2,"b":[1,"x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		capture  bool
		mode     tracing.ChecksumMode
		ev       tracing.TraceEvent
		checksum string
	}{
		{"Reflow's test vector", true, tracing.ChecksumWhenCaptured, withContent([]byte(`{}`)), emptyObjectChecksum},
		{"test vector with blanks", true, tracing.ChecksumWhenCaptured, withContent([]byte(" {\n} ")), emptyObjectChecksum},
		{"canonical form", true, tracing.ChecksumWhenCaptured, withContent([]byte(`{ "b": [1.0, "x"], "a": 2 }`)), canonical},
		{"on record", true, tracing.ChecksumOnRecord, withContent([]byte(`{}`)), emptyObjectChecksum},
		{"off", true, tracing.ChecksumOff, withContent([]byte(`{}`)), ""},
		{"content not captured", false, tracing.ChecksumWhenCaptured, withContent([]byte(`{}`)), ""},
		{"content not captured, on record", false, tracing.ChecksumOnRecord, withContent([]byte(`{}`)), ""},
		{"not JSON", true, tracing.ChecksumWhenCaptured, withContent([]byte{0x08, 0x96, 0x01}), ""},
		{"not JSON, on record", true, tracing.ChecksumOnRecord, withContent([]byte("{")), ""},
		{"empty content", true, tracing.ChecksumWhenCaptured, withContent([]byte{}), ""},
		{"no snapshot", true, tracing.ChecksumWhenCaptured, event.ActorStarted("a"), ""},
		{"encoded content", true, tracing.ChecksumWhenCaptured, func() tracing.TraceEvent {
			ev := withContent([]byte(`{}`))
			ev.Data.Message.ContentCodec = "lz4"
			return ev
		}(), ""},
		{"content codec none", true, tracing.ChecksumWhenCaptured, func() tracing.TraceEvent {
			ev := withContent([]byte(`{}`))
			ev.Data.Message.ContentCodec = "none"
			return ev
		}(), emptyObjectChecksum},
		{"the user's checksum is kept", true, tracing.ChecksumWhenCaptured, func() tracing.TraceEvent {
			ev := withContent([]byte(`{}`))
			ev.Data.Message.Checksum = "sha256:mine"
			return ev
		}(), "sha256:mine"},
		{"the user's checksum is kept, on record", true, tracing.ChecksumOnRecord, func() tracing.TraceEvent {
			ev := withContent([]byte(`{}`))
			ev.Data.Message.Checksum = "sha256:mine"
			return ev
		}(), "sha256:mine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemory(t)
			c := checksumClient(t, m, tt.capture, tt.mode)
			if got := recordOne(t, c, m, tt.ev); got != tt.checksum {
				t.Fatalf("checksum %q, want %q", got, tt.checksum)
			}
		})
	}
}

// TestChecksumsSeeRedactedContent checks that both modes checksum the
// content the sinks receive: after the user's redactor changed it.
func TestChecksumsSeeRedactedContent(t *testing.T) {
	redact := tracing.WithRedactor(func(ev *tracing.TraceEvent) {
		ev.Data.Message.SerializedData = []byte(`{}`)
	})
	for _, mode := range []tracing.ChecksumMode{tracing.ChecksumWhenCaptured, tracing.ChecksumOnRecord} {
		t.Run(mode.String(), func(t *testing.T) {
			m := newMemory(t)
			c := checksumClient(t, m, true, mode, redact)
			if got := recordOne(t, c, m, withContent([]byte(`{"secret":"s3cret"}`))); got != emptyObjectChecksum {
				t.Fatalf("checksum %q, want that of the redacted content", got)
			}
		})
	}
}

// TestChecksumWhereComputed tells where each mode computes the checksum:
// content changed after Record (which Record's contract forbids, and which
// is safe here because the consumer waits for Flush) is seen by the
// consumer, not by the recording goroutine. ChecksumOnRecord has the
// checksum of the bytes as recorded; ChecksumWhenCaptured that of what the
// sink received.
func TestChecksumWhereComputed(t *testing.T) {
	recorded, err := tracing.ContentChecksum([]byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	changed, err := tracing.ContentChecksum([]byte(`{"n":2}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode tracing.ChecksumMode
		want string
	}{
		{tracing.ChecksumOnRecord, recorded},
		{tracing.ChecksumWhenCaptured, changed},
		{tracing.ChecksumOff, ""},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			s := &checksumSink{}
			c := checksumClient(t, s, true, tt.mode)
			ctx := flushCtx(t)
			content := []byte(`{"n":1}`)
			c.Record(ctx, withContent(content))
			content[5] = '2'
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			got := s.checksums()
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("the sink saw checksums %q, want [%q]", got, tt.want)
			}
		})
	}
}

// checksumSink keeps the checksum of every event written to it.
type checksumSink struct {
	mu   sync.Mutex
	sums []string
}

func (s *checksumSink) Write(_ context.Context, batch []tracing.TraceEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range batch {
		s.sums = append(s.sums, batch[i].Data.Message.Checksum)
	}
	return nil
}

func (s *checksumSink) checksums() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sums...)
}

func (s *checksumSink) Flush(context.Context) error { return nil }
func (s *checksumSink) Close(context.Context) error { return nil }

// countSink counts and discards what it is written.
type countSink struct{ n atomic.Uint64 }

func (s *countSink) Write(_ context.Context, batch []tracing.TraceEvent) error {
	s.n.Add(uint64(len(batch)))
	return nil
}
func (s *countSink) Flush(context.Context) error { return nil }
func (s *countSink) Close(context.Context) error { return nil }

// TestChecksumsRecordWithoutAllocating checks that recording an event with
// captured content allocates nothing unless the checksum is computed on
// record: AllocsPerRun counts the whole process, and the consumer waits
// for the final Flush, so the count is the recording goroutine's.
func TestChecksumsRecordWithoutAllocating(t *testing.T) {
	ev := withContent([]byte(`{"order":42,"items":["a","b"]}`))
	for _, mode := range []tracing.ChecksumMode{tracing.ChecksumWhenCaptured, tracing.ChecksumOff} {
		t.Run(mode.String(), func(t *testing.T) {
			s := &countSink{}
			c := checksumClient(t, s, true, mode)
			ctx := context.Background()
			if got := testing.AllocsPerRun(200, func() { c.Record(ctx, ev) }); got != 0 {
				t.Fatalf("Record allocates %v times per event, want 0", got)
			}
			if err := c.Flush(flushCtx(t)); err != nil {
				t.Fatal(err)
			}
			if m := c.Metrics(); m.Dropped.QueueFull != 0 || s.n.Load() == 0 {
				t.Fatalf("%d delivered, %d dropped: the test did not run the full path", s.n.Load(), m.Dropped.QueueFull)
			}
		})
	}
	// The guard sees allocations: on record, ContentChecksum allocates.
	s := &countSink{}
	c := checksumClient(t, s, true, tracing.ChecksumOnRecord)
	if got := testing.AllocsPerRun(20, func() { c.Record(context.Background(), ev) }); got == 0 {
		t.Fatal("ChecksumOnRecord records without allocating: the checksum was not computed on record")
	}
}

// content200 is about 200 bytes of JSON message content.
var content200 = func() []byte {
	b := []byte(`{"order_id":"ord-0001","customer":{"id":4711,"tier":"gold"},"items":[`)
	for i := 0; len(b) < 180; i++ {
		b = fmt.Appendf(b, `{"sku":"sku-%03d","qty":%d},`, i, i+1)
	}
	return append(bytes.TrimSuffix(b, []byte(",")), `],"total":129.5}`...)
}()

// BenchmarkConsumerChecksums measures what the client's consumer delivers
// with and without checksums of captured 200-byte JSON content, through a
// discarding sink. Recording waits for room (Block, RecordWait), so the
// rate is the consumer's.
func BenchmarkConsumerChecksums(b *testing.B) {
	if _, err := tracing.ContentChecksum(content200); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []tracing.ChecksumMode{tracing.ChecksumOff, tracing.ChecksumWhenCaptured} {
		b.Run(mode.String(), func(b *testing.B) {
			cfg := tracing.DefaultConfig()
			cfg.Privacy.CaptureContent = true
			cfg.Privacy.Checksums = mode
			cfg.QueuePolicy = batch.Block
			s := &countSink{}
			c, err := tracing.New(cfg, tracing.WithSink(s))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			ev := withContent(content200)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := c.RecordWait(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			if err := c.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if err := c.Close(ctx); err != nil {
				b.Fatal(err)
			}
			if got := s.n.Load(); got != uint64(b.N) {
				b.Fatalf("%d of %d events delivered", got, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
		})
	}
}

// newMemory returns a Memory sink with the default capacity.
func newMemory(t *testing.T) *memory.Sink {
	t.Helper()
	m, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	return m
}
