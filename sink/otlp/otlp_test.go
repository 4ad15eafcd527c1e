package otlp_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

func attrs(s ptrace.Span) map[string]any { return s.Attributes().AsRaw() }

func wantAttr(t *testing.T, name string, got map[string]any, key string, want any) {
	t.Helper()
	v, ok := got[key]
	if !ok {
		t.Errorf("%s: no attribute %s (have %v)", name, key, got)
		return
	}
	if v != want {
		t.Errorf("%s: %s = %#v (%T), want %#v (%T)", name, key, v, v, want, want)
	}
}

// TestPipelineThroughCollector traces a small pipeline through a client
// into the collector's OTLP receiver, over each protocol, and checks every
// span that arrived.
func TestPipelineThroughCollector(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			recv := new(consumertest.TracesSink)
			addr := startCollector(t, p.proto, recv)
			res := resource.NewSchemaless(attribute.String("deployment.environment.name", "test"))
			s := newSink(t, p.proto, addr, otlp.WithServiceName("pipeline"), otlp.WithResource(res))

			ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
			defer cancel()
			cfg := tracing.DefaultConfig()
			client, err := tracing.New(cfg, tracing.WithSink(s))
			if err != nil {
				t.Fatal(err)
			}
			version := tracing.FlowVersion{Major: 1, Minor: 2, Patch: 3, GitHash: "abc123"}
			ctx, tid, err := client.StartTrace(ctx, "sensors", version)
			if err != nil {
				t.Fatal(err)
			}
			created := client.ActorCreated(ctx, "sensor")
			cctx := tracing.ContextWithEvent(ctx, created)
			flow := event.DataFlow("sensor", "out", "validator", "in", "Reading", 256)
			flow.Data.PerformanceMetrics.ExecutionTimeNs = 1500
			flow.Data.CustomAttributes.Set(attr.String("unit", "celsius"))
			flow.Data.CustomAttributes.Set(attr.Int("retries", 2))
			flowID := client.Record(cctx, flow)
			unmeasured := event.ActorStarted("validator")
			unmeasured.Data.PerformanceMetrics.ExecutionTimeNs = 999
			unmeasured.Data.PerformanceMetrics.Unmeasured = tracing.MetricExecutionTimeNs
			startedID := client.Record(tracing.ContextWithEvent(ctx, flowID), unmeasured)
			failedID := client.Record(tracing.ContextWithEvent(ctx, startedID), event.ActorFailed("validator", "out of range"))
			if err := client.EndTrace(ctx, tracing.FailedStatus("validator failed")); err != nil {
				t.Fatal(err)
			}
			if err := client.Close(ctx); err != nil {
				t.Fatalf("client.Close: %v", err)
			}
			m := client.Metrics()
			if m.Delivered != 4 || m.Dropped.Total() != 0 {
				t.Errorf("Delivered %d, Dropped %+v; want 4 delivered, none dropped", m.Delivered, m.Dropped)
			}
			if st := s.SinkStats(); !st.Acknowledges || st.Acknowledged != 4 || !st.StalledSince.IsZero() {
				t.Errorf("SinkStats %+v, want 4 acknowledged, not stalled", st)
			}

			spans := spansOf(recv)
			if len(spans) != 5 {
				for _, sp := range spans {
					t.Logf("span %s %s parent %s", sp.span.Name(), sp.span.SpanID(), sp.span.ParentSpanID())
				}
				t.Fatalf("collector received %d spans, want 5 (root + 4 events)", len(spans))
			}
			byID := map[pcommon.SpanID]ptrace.Span{}
			wantTrace := pcommon.TraceID(tid)
			for _, sp := range spans {
				if sp.span.TraceID() != wantTrace {
					t.Errorf("span %s: trace id %s, want %s", sp.span.Name(), sp.span.TraceID(), wantTrace)
				}
				if sp.resource["service.name"] != "pipeline" || sp.resource["deployment.environment.name"] != "test" {
					t.Errorf("span %s: resource %v", sp.span.Name(), sp.resource)
				}
				if sp.scope != otlp.ScopeName {
					t.Errorf("span %s: scope %q", sp.span.Name(), sp.scope)
				}
				if sp.span.Kind() != ptrace.SpanKindInternal {
					t.Errorf("span %s: kind %v", sp.span.Name(), sp.span.Kind())
				}
				byID[sp.span.SpanID()] = sp.span
			}
			sid := func(id tracing.EventID) pcommon.SpanID { return pcommon.SpanID(otlp.SpanIDOf(id)) }
			rootID := pcommon.SpanID(otlp.RootSpanIDOf(tid))

			root, ok := byID[rootID]
			if !ok {
				t.Fatalf("no root span %s", rootID)
			}
			if root.Name() != "flow:sensors" || !root.ParentSpanID().IsEmpty() {
				t.Errorf("root: name %q parent %s", root.Name(), root.ParentSpanID())
			}
			ra := attrs(root)
			wantAttr(t, "root", ra, otlp.AttrFlowID, "sensors")
			wantAttr(t, "root", ra, otlp.AttrFlowVersion, "1.2.3")
			wantAttr(t, "root", ra, otlp.AttrGitHash, "abc123")
			wantAttr(t, "root", ra, otlp.AttrStatus, "Failed(validator failed)")
			wantAttr(t, "root", ra, otlp.AttrTraceID, tid.String())
			execID, _ := ra[otlp.AttrExecutionID].(string)
			if _, err := tracing.ParseExecutionID(execID); err != nil {
				t.Errorf("root: execution id %q: %v", execID, err)
			}
			if root.Status().Code() != ptrace.StatusCodeError || root.Status().Message() != "validator failed" {
				t.Errorf("root: status %v %q", root.Status().Code(), root.Status().Message())
			}

			cases := []struct {
				id       tracing.EventID
				name     string
				parent   pcommon.SpanID
				kind     string
				actor    string
				duration time.Duration
				err      string
			}{
				{created, "ActorCreated:sensor", rootID, "ActorCreated", "sensor", 0, ""},
				{flowID, "dataflow:sensor->validator", sid(created), "DataFlow", "sensor", 1500, ""},
				{startedID, "ActorStarted:validator", sid(flowID), "ActorStarted", "validator", 0, ""},
				{failedID, "ActorFailed:validator", sid(startedID), "ActorFailed", "validator", 0, "out of range"},
			}
			for _, c := range cases {
				sp, ok := byID[sid(c.id)]
				if !ok {
					t.Errorf("%s: no span %s", c.name, sid(c.id))
					continue
				}
				if sp.Name() != c.name {
					t.Errorf("span %s: name %q, want %q", sid(c.id), sp.Name(), c.name)
				}
				if sp.ParentSpanID() != c.parent {
					t.Errorf("%s: parent %s, want %s", c.name, sp.ParentSpanID(), c.parent)
				}
				if d := sp.EndTimestamp().AsTime().Sub(sp.StartTimestamp().AsTime()); d != c.duration {
					t.Errorf("%s: duration %v, want %v", c.name, d, c.duration)
				}
				if sp.StartTimestamp() < root.StartTimestamp() {
					t.Errorf("%s: starts before its trace's root", c.name)
				}
				a := attrs(sp)
				wantAttr(t, c.name, a, otlp.AttrActorID, c.actor)
				wantAttr(t, c.name, a, otlp.AttrEventType, c.kind)
				wantAttr(t, c.name, a, otlp.AttrEventID, c.id.String())
				wantAttr(t, c.name, a, otlp.AttrFlowID, "sensors")
				wantAttr(t, c.name, a, otlp.AttrExecutionID, execID)
				if c.err != "" {
					if sp.Status().Code() != ptrace.StatusCodeError || sp.Status().Message() != c.err {
						t.Errorf("%s: status %v %q, want Error %q", c.name, sp.Status().Code(), sp.Status().Message(), c.err)
					}
					wantAttr(t, c.name, a, otlp.AttrError, c.err)
				} else if sp.Status().Code() != ptrace.StatusCodeUnset {
					t.Errorf("%s: status %v, want Unset", c.name, sp.Status().Code())
				}
			}
			fa := attrs(byID[sid(flowID)])
			wantAttr(t, "dataflow", fa, otlp.AttrPort, "out")
			wantAttr(t, "dataflow", fa, otlp.AttrToActor, "validator")
			wantAttr(t, "dataflow", fa, otlp.AttrToPort, "in")
			wantAttr(t, "dataflow", fa, otlp.AttrMessageType, "Reading")
			wantAttr(t, "dataflow", fa, otlp.AttrMessageSize, int64(256))
			wantAttr(t, "dataflow", fa, otlp.AttrCustomPrefix+"unit", "celsius")
			wantAttr(t, "dataflow", fa, otlp.AttrCustomPrefix+"retries", int64(2))
			wantAttr(t, "dataflow", fa, otlp.AttrRootCause, created.String())
		})
	}
}

// TestRootSpanOnFlush checks that an ended trace's root span leaves with
// the next Flush, once, and that a trace that never ended gets its root
// at Close, marked Running.
func TestRootSpanOnFlush(t *testing.T) {
	recv := new(consumertest.TracesSink)
	addr := startCollector(t, otlp.ProtocolGRPC, recv)
	s := newSink(t, otlp.ProtocolGRPC, addr)
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()

	ended, open := tracing.NewTraceID(), tracing.NewTraceID()
	start := time.Now().UTC()
	ft := tracing.FlowTrace{TraceID: ended, FlowID: "f", StartTime: start, Status: tracing.ExecutionStatus{Kind: tracing.StatusRunning}}
	s.ObserveTrace(ft)
	s.ObserveTrace(tracing.FlowTrace{TraceID: open, FlowID: "g", StartTime: start, Status: tracing.ExecutionStatus{Kind: tracing.StatusRunning}})
	evA := event.ActorCreated("a")
	evA.TraceID = ended
	evB := event.ActorCreated("b")
	evB.TraceID = open
	if err := s.Write(ctx, []tracing.TraceEvent{evA, evB}); err != nil {
		t.Fatal(err)
	}
	if n := recv.SpanCount(); n != 2 {
		t.Fatalf("after Write: %d spans, want 2", n)
	}
	ft.EndTime = start.Add(time.Second)
	ft.Status = tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
	s.ObserveTrace(ft)
	s.ObserveTrace(ft) // told twice: still one root
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	spans := spansOf(recv)
	if len(spans) != 3 {
		t.Fatalf("after Flush: %d spans, want 3", len(spans))
	}
	var root ptrace.Span
	for _, sp := range spans {
		if sp.span.SpanID() == pcommon.SpanID(otlp.RootSpanIDOf(ended)) {
			root = sp.span
		}
	}
	if root.Name() != "flow:f" || root.Status().Code() != ptrace.StatusCodeOk ||
		root.EndTimestamp().AsTime().Sub(root.StartTimestamp().AsTime()) != time.Second {
		t.Errorf("ended root: %q %v %v..%v", root.Name(), root.Status().Code(), root.StartTimestamp(), root.EndTimestamp())
	}
	wantAttr(t, "ended root", attrs(root), otlp.AttrStatus, "Completed")

	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	spans = spansOf(recv)
	if len(spans) != 4 {
		t.Fatalf("after Close: %d spans, want 4", len(spans))
	}
	for _, sp := range spans {
		if sp.span.SpanID() == pcommon.SpanID(otlp.RootSpanIDOf(open)) {
			wantAttr(t, "open root", attrs(sp.span), otlp.AttrStatus, "Running")
			if sp.span.Status().Code() != ptrace.StatusCodeUnset {
				t.Errorf("open root: status %v", sp.span.Status().Code())
			}
			return
		}
	}
	t.Error("no root span for the trace that never ended")
}

// TestEvictedTraceExportsItsRoot checks WithMaxTraces: the trace heard of
// least recently is forgotten and its root goes out with the next export.
func TestEvictedTraceExportsItsRoot(t *testing.T) {
	recv := new(consumertest.TracesSink)
	addr := startCollector(t, otlp.ProtocolHTTP, recv)
	s := newSink(t, otlp.ProtocolHTTP, addr, otlp.WithMaxTraces(2))
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	ids := []tracing.TraceID{tracing.NewTraceID(), tracing.NewTraceID(), tracing.NewTraceID()}
	for _, id := range ids {
		ev := event.ActorCreated("a")
		ev.TraceID = id
		if err := s.Write(ctx, []tracing.TraceEvent{ev}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(ctx, nil); err != nil { // carries the evicted root
		t.Fatal(err)
	}
	var roots []pcommon.TraceID
	for _, sp := range spansOf(recv) {
		if sp.span.ParentSpanID().IsEmpty() {
			roots = append(roots, sp.span.TraceID())
			if sp.span.Name() != "trace:"+ids[0].String() {
				t.Errorf("evicted root named %q", sp.span.Name())
			}
		}
	}
	if len(roots) != 1 || roots[0] != pcommon.TraceID(ids[0]) {
		t.Errorf("roots %v, want only the first trace's", roots)
	}
}

// TestZeroTraceID checks that events without a trace share one valid
// trace id.
func TestZeroTraceID(t *testing.T) {
	recv := new(consumertest.TracesSink)
	addr := startCollector(t, otlp.ProtocolGRPC, recv)
	s := newSink(t, otlp.ProtocolGRPC, addr)
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := s.Write(ctx, []tracing.TraceEvent{event.ActorCreated("a"), event.ActorCreated("b")}); err != nil {
		t.Fatal(err)
	}
	spans := spansOf(recv)
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	id := spans[0].span.TraceID()
	if id.IsEmpty() || spans[1].span.TraceID() != id {
		t.Errorf("trace ids %s, %s: want one valid id", id, spans[1].span.TraceID())
	}
}

// TestCollectorRejects checks that a batch the collector refuses fails the
// Write, is not acknowledged, counts as a write error in the client, and
// marks the sink stalled until an export succeeds.
func TestCollectorRejects(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			refusing := consumertest.NewErr(consumererror.NewPermanent(errors.New("storage full")))
			addr := startCollector(t, p.proto, refusing)
			s := newSink(t, p.proto, addr)
			ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
			defer cancel()
			client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(s))
			if err != nil {
				t.Fatal(err)
			}
			client.ActorCreated(ctx, "a")
			client.ActorCreated(ctx, "b")
			if err := client.Flush(ctx); err != nil { // a failed Write is a drop, not a Flush error
				t.Fatal(err)
			}
			if m := client.Metrics(); m.Dropped.WriteError != 2 || m.LastError == "" {
				t.Errorf("after Flush: Dropped %+v, LastError %q; want 2 write errors", m.Dropped, m.LastError)
			}
			st := s.SinkStats()
			if st.Acknowledged != 0 || st.StalledSince.IsZero() {
				t.Errorf("SinkStats %+v, want none acknowledged, stalled", st)
			}
			_ = client.Close(ctx)
			m := client.Metrics()
			if m.Delivered != 0 || m.Dropped.WriteError != 2 {
				t.Errorf("Delivered %d, Dropped %+v; want 0 delivered, 2 write errors", m.Delivered, m.Dropped)
			}
		})
	}
}

// TestCollectorDown checks that a Write to an endpoint nobody listens on
// fails, and that the sink recovers once a collector answers.
func TestCollectorDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	s := newSink(t, otlp.ProtocolHTTP, freeLoopbackAddr(t))
	if err := s.Write(ctx, []tracing.TraceEvent{event.ActorCreated("a")}); err == nil {
		t.Fatal("Write to a closed port: nil error")
	}
	if st := s.SinkStats(); st.StalledSince.IsZero() || st.Acknowledged != 0 {
		t.Errorf("SinkStats %+v, want stalled, none acknowledged", st)
	}
}

// TestLifecycle covers Close twice, and Write, Flush and ObserveTrace
// after Close, and a cancelled ctx.
func TestLifecycle(t *testing.T) {
	recv := new(consumertest.TracesSink)
	addr := startCollector(t, otlp.ProtocolGRPC, recv)
	s := newSink(t, otlp.ProtocolGRPC, addr)
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	done, stop := context.WithCancel(ctx)
	stop()
	if err := s.Write(done, []tracing.TraceEvent{event.ActorCreated("a")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled ctx: %v", err)
	}
	if err := s.Flush(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush with a cancelled ctx: %v", err)
	}
	if err := s.Write(ctx, nil); err != nil {
		t.Errorf("empty Write: %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Write(ctx, []tracing.TraceEvent{event.ActorCreated("a")}); !errors.Is(err, tracing.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := s.Flush(ctx); !errors.Is(err, tracing.ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
	s.ObserveTrace(tracing.FlowTrace{TraceID: tracing.NewTraceID()})
	if n := recv.SpanCount(); n != 0 {
		t.Errorf("%d spans exported, want none", n)
	}
}

func TestOptionsInvalid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	cases := []struct {
		name string
		opt  otlp.Option
	}{
		{"protocol", otlp.WithProtocol(7)},
		{"endpoint", otlp.WithEndpoint("no-port")},
		{"endpoint url scheme", otlp.WithEndpointURL("ftp://h:1")},
		{"endpoint url host", otlp.WithEndpointURL("http:///v1/traces")},
		{"endpoint url syntax", otlp.WithEndpointURL("http://[::1")},
		{"tls nil", otlp.WithTLSConfig(nil)},
		{"timeout", otlp.WithTimeout(0)},
		{"retry", otlp.WithRetry(otlp.RetryConfig{Enabled: true, InitialInterval: -1})},
		{"exporter nil", otlp.WithExporter(nil)},
		{"service name", otlp.WithServiceName("")},
		{"max traces", otlp.WithMaxTraces(0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := otlp.New(ctx, c.opt)
			if !errors.Is(err, otlp.ErrInvalidOption) || s != nil {
				t.Errorf("New: %v, %v; want ErrInvalidOption", s, err)
			}
		})
	}
	if _, err := otlp.New(ctx, otlp.WithInsecure(), otlp.WithTLSConfig(nil)); !errors.Is(err, otlp.ErrInvalidOption) {
		t.Errorf("insecure and nil TLS: %v", err)
	}
}

func TestSpanIDOf(t *testing.T) {
	cases := []struct {
		name string
		id   tracing.EventID
		want trace.SpanID
	}{
		{"last 8 bytes", tracing.EventID{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
			trace.SpanID{8, 9, 10, 11, 12, 13, 14, 15}},
		{"last 8 zero", tracing.EventID{1, 2, 3, 4, 5, 6, 7, 8}, trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}},
		{"zero", tracing.EventID{}, trace.SpanID{0, 0, 0, 0, 0, 0, 0, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := otlp.SpanIDOf(c.id)
			if got != c.want || !got.IsValid() {
				t.Errorf("SpanIDOf(%v) = %v, want %v", c.id, got, c.want)
			}
		})
	}
	ev := event.ActorCreated("a")
	if got := otlp.SpanIDOf(ev.EventID).String(); got != ev.EventID.String()[19:23]+ev.EventID.String()[24:] {
		t.Errorf("SpanIDOf = %s, want the hex of the id's last 8 bytes (%s)", got, ev.EventID)
	}
	if otlp.TraceIDOf(tracing.TraceID{1}) != (trace.TraceID{1}) {
		t.Error("TraceIDOf does not keep the bytes")
	}
}

// TestSinkConcurrentSafe runs Write, Flush, ObserveTrace and SinkStats
// together, then Close, under the race detector; every event's span must
// arrive.
func TestSinkConcurrentSafe(t *testing.T) {
	recv := new(consumertest.TracesSink)
	addr := startCollector(t, otlp.ProtocolGRPC, recv)
	s := newSink(t, otlp.ProtocolGRPC, addr)
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	const batches, perBatch = 20, 5
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // the client's consumer: one writer
		defer wg.Done()
		for range batches {
			id := tracing.NewTraceID()
			batch := make([]tracing.TraceEvent, perBatch)
			for i := range batch {
				batch[i] = event.ActorCreated("a")
				batch[i].TraceID = id
			}
			if err := s.Write(ctx, batch); err != nil {
				t.Error(err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range batches {
			now := time.Now()
			s.ObserveTrace(tracing.FlowTrace{TraceID: tracing.NewTraceID(), FlowID: "f", StartTime: now, EndTime: now})
			_ = s.SinkStats()
		}
	}()
	go func() {
		defer wg.Done()
		for range batches {
			if err := s.Flush(ctx); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Events, one root per written trace (at Close, never ended) and one
	// per observed trace that ended.
	if got, want := recv.SpanCount(), batches*perBatch+2*batches; got != want {
		t.Errorf("%d spans arrived, want %d", got, want)
	}
	if st := s.SinkStats(); st.Acknowledged != batches*perBatch {
		t.Errorf("Acknowledged %d, want %d", st.Acknowledged, batches*perBatch)
	}
}
