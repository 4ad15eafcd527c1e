package websocket

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

const benchBatch = 512

// benchBatches returns batches of typical events: data flows with a
// message snapshot and two attributes, every tenth an actor lifecycle
// event, all of one trace.
func benchBatches(n int) [][]tracing.TraceEvent {
	trace := tracing.NewTraceID()
	out := make([][]tracing.TraceEvent, n)
	for i := range out {
		out[i] = makeEvents(benchBatch, trace)
	}
	return out
}

// BenchmarkWebSocket measures events per second and wire bytes per event
// through the sink to the in-process test server on loopback (which only
// scans event ids), in store and live mode, with and without lz4, and
// Reflow's naive client for comparison: each event marshalled with
// encoding/json, sent as its own RecordEvent text frame, and its reply
// awaited before the next.
func BenchmarkWebSocket(b *testing.B) {
	for _, bc := range []struct {
		name string
		mode Mode
		lz4  bool
	}{
		{"store", ModeStore, false},
		{"store-lz4", ModeStore, true},
		{"live", ModeLive, false},
		{"live-lz4", ModeLive, true},
	} {
		b.Run(bc.name, func(b *testing.B) { benchSink(b, bc.mode, bc.lz4) })
	}
	b.Run("naive-reflow", benchNaive)
}

func benchSink(b *testing.B, mode Mode, lz4 bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv, err := tracetest.Start(ctx, append(lz4Server(lz4), tracetest.WithFastScan(true))...)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	s, err := New(srv.URL(), WithMode(mode), compressIf(lz4, transport.CompressionLZ4), WithKeepalive(0, time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	batches := benchBatches(16)
	// Warm up: connect and fill the buffer pools.
	if err := s.Write(ctx, batches[0]); err != nil {
		b.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	before := s.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	events := 0
	for i := 0; events < b.N; i++ {
		batch := batches[i%len(batches)]
		if n := b.N - events; n < len(batch) {
			batch = batch[:n]
		}
		if err := s.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
		events += len(batch)
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	after := s.Stats()
	delivered := after.EventsDelivered - before.EventsDelivered
	if delivered != uint64(events) {
		b.Fatalf("delivered %d of %d events", delivered, events)
	}
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(after.WireBytes-before.WireBytes)/float64(events), "wire-B/event")
	b.ReportMetric(float64(after.RawBytes-before.RawBytes)/float64(events), "raw-B/event")
}

// BenchmarkWebSocketKeep sends one trace of 200,000 events in batches of
// 512 per iteration, without compression, to the test server (scanning
// only ids, with the storage rules of the reference server), ends it and
// flushes, then checks that the server keeps every event once. It reports
// the events kept per second and the bytes sent per event, per server
// generation and mode.
func BenchmarkWebSocketKeep(b *testing.B) {
	for _, bc := range []struct {
		name string
		gen  tracetest.Generation
		mode Mode
	}{
		{"gen1/store", tracetest.Gen1, ModeStore},
		{"gen2/store", tracetest.Gen2, ModeStore},
		{"gen2/live", tracetest.Gen2, ModeLive},
	} {
		b.Run(bc.name, func(b *testing.B) { benchKeep(b, bc.gen, bc.mode) })
	}
}

func benchKeep(b *testing.B, gen tracetest.Generation, mode Mode) {
	const events = 200_000
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	srv, err := tracetest.Start(ctx, tracetest.WithFastScan(true), tracetest.WithGeneration(gen))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	s, err := New(srv.URL(), WithMode(mode), WithKeepalive(0, time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	var elapsed time.Duration
	var wire uint64
	for range b.N {
		b.StopTimer()
		hdr := traceHeader(tracing.NewTraceID())
		evs := makeEvents(events, hdr.TraceID)
		before := s.Stats().WireBytes
		b.StartTimer()
		start := time.Now()
		s.ObserveTrace(hdr)
		for i := 0; i < len(evs); i += benchBatch {
			if err := s.Write(ctx, evs[i:min(i+benchBatch, len(evs))]); err != nil {
				b.Fatal(err)
			}
		}
		s.ObserveTrace(ended(hdr, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}))
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		wire += s.Stats().WireBytes - before
		kept := srv.Kept()
		for i := range evs {
			if n := kept[evs[i].EventID]; n != 1 {
				b.Fatalf("event %d kept %d times, want once", i, n)
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N) * events
	b.ReportMetric(n/elapsed.Seconds(), "events_kept/s")
	b.ReportMetric(float64(wire)/n, "wire_bytes/event")
}

// The naive client's view of an event: plain structs marshalled by
// reflection, as a straightforward port of Reflow's client would do.
type (
	naiveRequest struct {
		RecordEvent naiveRecord `json:"RecordEvent"`
	}
	naiveRecord struct {
		TraceID string     `json:"trace_id"`
		Event   naiveEvent `json:"event"`
	}
	naiveEvent struct {
		EventID   string         `json:"event_id"`
		Timestamp time.Time      `json:"timestamp"`
		EventType any            `json:"event_type"`
		ActorID   string         `json:"actor_id"`
		Data      naiveData      `json:"data"`
		Causality naiveCausality `json:"causality"`
	}
	naiveData struct {
		Port               *string          `json:"port"`
		Message            *naiveMessage    `json:"message"`
		StateDiff          *json.RawMessage `json:"state_diff"`
		Error              *string          `json:"error"`
		PerformanceMetrics naivePerf        `json:"performance_metrics"`
		CustomAttributes   map[string]any   `json:"custom_attributes"`
	}
	naiveMessage struct {
		MessageType    string `json:"message_type"`
		SizeBytes      uint64 `json:"size_bytes"`
		Checksum       string `json:"checksum"`
		SerializedData []int  `json:"serialized_data"`
	}
	naivePerf struct {
		ExecutionTimeNs      uint64  `json:"execution_time_ns"`
		MemoryUsageBytes     uint64  `json:"memory_usage_bytes"`
		CPUUsagePercent      float64 `json:"cpu_usage_percent"`
		QueueDepth           uint64  `json:"queue_depth"`
		ThroughputMsgsPerSec float64 `json:"throughput_msgs_per_sec"`
	}
	naiveCausality struct {
		ParentEventID    *string  `json:"parent_event_id"`
		RootCauseEventID string   `json:"root_cause_event_id"`
		DependencyChain  []string `json:"dependency_chain"`
		SpanID           string   `json:"span_id"`
	}
)

func toNaive(trace tracing.TraceID, ev *tracing.TraceEvent) naiveRequest {
	var typ any = ev.Type.Kind.String()
	if ev.Type.Kind == tracing.KindDataFlow {
		typ = map[string]any{"DataFlow": map[string]string{"to_actor": ev.Type.ToActor, "to_port": ev.Type.ToPort}}
	}
	attrs := map[string]any{}
	for a := range ev.Data.CustomAttributes.All {
		attrs[a.Key] = a.Value.String()
	}
	var port *string
	if ev.Data.Port != "" {
		p := ev.Data.Port
		port = &p
	}
	var msg *naiveMessage
	if ev.Data.HasMessage {
		msg = &naiveMessage{MessageType: ev.Data.Message.MessageType, SizeBytes: ev.Data.Message.SizeBytes, SerializedData: []int{}}
	}
	return naiveRequest{RecordEvent: naiveRecord{
		TraceID: trace.String(),
		Event: naiveEvent{
			EventID: ev.EventID.String(), Timestamp: ev.Timestamp, EventType: typ, ActorID: ev.ActorID,
			Data: naiveData{Port: port, Message: msg, CustomAttributes: attrs},
			Causality: naiveCausality{
				RootCauseEventID: ev.Causality.RootCauseEventID.String(), DependencyChain: []string{},
				SpanID: fmt.Sprintf("%x", ev.EventID[8:]),
			},
		},
	}}
}

func benchNaive(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv, err := tracetest.Start(ctx, tracetest.WithFastScan(true))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c, _, err := cws.Dial(ctx, srv.URL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	batches := benchBatches(4)
	var reqs []naiveRequest
	for _, batch := range batches {
		for i := range batch {
			reqs = append(reqs, toNaive(batch[i].TraceID, &batch[i]))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wire int
	for i := range b.N {
		data, err := json.Marshal(&reqs[i%len(reqs)])
		if err != nil {
			b.Fatal(err)
		}
		wire += len(data)
		if err := c.Write(ctx, cws.MessageText, data); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(wire)/float64(b.N), "wire-B/event")
}
