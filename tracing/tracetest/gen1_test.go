package tracetest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

const invalidReply = `{"Error":{"message":"Invalid message format"}}`

// rawRoundTrip sends msg as a text frame and returns the reply's JSON.
func (c *client) rawRoundTrip(msg string) string {
	c.t.Helper()
	c.sendRaw([]byte(msg), false)
	data, _ := c.recvRaw()
	return string(data)
}

func TestGen1StartTracePicksNewIDAndStoresNothing(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s, nil)
	own := tracing.NewTraceID()
	for _, msg := range []string{
		`{"StartTrace":{"flow_id":"f","version":{"major":1,"minor":0,"patch":0,"git_hash":null,"timestamp":"2026-01-01T00:00:00Z"}}}`,
		`{"StartTrace":{"trace_id":"` + own.String() + `","flow_id":"f","version":{"major":1,"minor":0,"patch":0,"git_hash":null,"timestamp":"2026-01-01T00:00:00Z"}}}`,
		`{"StartTrace":{"trace_id":null,"flow_id":"f","version":{"major":1,"minor":0,"patch":0,"git_hash":null,"timestamp":"2026-01-01T00:00:00Z"}}}`,
	} {
		resp, err := wire.DecodeResponse([]byte(c.rawRoundTrip(msg)))
		ts, ok := resp.(wire.TraceStarted)
		if err != nil || !ok || ts.TraceID.IsZero() || ts.TraceID == own {
			t.Fatalf("reply to %s: %#v %v (want a new server id)", msg, resp, err)
		}
	}
	if st := s.Stats(); st.Stored != 0 || st.InFlight != 0 || len(s.Traces()) != 0 {
		t.Fatalf("StartTrace kept something: %+v", st)
	}
}

func TestGen1RecordEventIsOnlyForwarded(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	sub := dial(t, ctx, s, nil)
	pub := dial(t, ctx, s, nil)
	if r, ok := sub.roundTrip(wire.Subscribe{}).(wire.EventRecorded); !ok || !r.Success {
		t.Fatalf("subscribe %#v", r)
	}
	tr := tracing.NewTraceID()
	ev := events(1, "a")[0]
	if r, ok := pub.roundTrip(wire.StartTrace{TraceID: tr, FlowID: "f"}).(wire.TraceStarted); !ok || r.TraceID == tr {
		t.Fatalf("StartTrace %#v", r)
	}
	if r, ok := pub.roundTrip(wire.RecordEvent{TraceID: tr, Event: ev}).(wire.EventRecorded); !ok || !r.Success {
		t.Fatalf("RecordEvent %#v", r)
	}
	if n, ok := sub.recv().(wire.EventNotification); !ok || n.Event.EventID != ev.EventID || n.TraceID != tr {
		t.Fatalf("notification %#v", n)
	}
	if s.Live()[ev.EventID] != 1 {
		t.Fatalf("live %v", s.Live())
	}
	if len(s.Kept()) != 0 || s.GetTrace(tr) != nil {
		t.Fatalf("generation 1 kept a RecordEvent: %v", s.Kept())
	}
	if td, ok := pub.roundTrip(wire.GetTrace{TraceID: tr}).(wire.TraceData); !ok || td.Trace != nil {
		t.Fatalf("GetTrace %#v", td)
	}
}

func TestGen1EndTraceIsUnknown(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s, nil)
	if got := c.rawRoundTrip(`{"EndTrace":{"trace_id":"` + tracing.NewTraceID().String() + `","status":"Completed"}}`); got != invalidReply {
		t.Fatalf("EndTrace reply %s", got)
	}
	if s.Stats().ByKind[KindInvalid] != 1 {
		t.Fatalf("by kind %v", s.Stats().ByKind)
	}
}

func TestGen1IgnoresRequestID(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s, nil)
	tr := newTrace(1)
	storeTrace(t, c, tr)
	for _, rid := range []string{`"11111111-2222-4333-8444-555555555555"`, `null`, `"nope"`} {
		got := c.rawRoundTrip(`{"GetTrace":{"trace_id":"00000000-0000-0000-0000-000000000000","request_id":` + rid + `}}`)
		if got != `{"TraceData":{"trace":null}}` {
			t.Fatalf("GetTrace with request_id %s: %s", rid, got)
		}
		got = c.rawRoundTrip(`{"QueryTraces":{"query":{},"request_id":` + rid + `}}`)
		if !strings.HasPrefix(got, `{"QueryResults":{"traces":[{"trace_id":"`+tr.TraceID.String()) || strings.Contains(got, "request_id") {
			t.Fatalf("QueryTraces with request_id %s: %.120s", rid, got)
		}
	}
}

func TestGen1RejectsUnmeasuredMetricsAndSnapshotsWithoutData(t *testing.T) {
	ctx := testCtx(t)
	for _, g := range []Generation{Gen1, Gen2} {
		s := start(t, ctx, WithGeneration(g))
		c := dial(t, ctx, s, nil)
		id := tracing.NewEventID().String()
		ev := func(metrics, message string) string {
			return `{"event_id":"` + id + `","timestamp":"2026-01-01T00:00:00Z","event_type":"ActorStarted","actor_id":"a","data":{"port":null,"message":` + message +
				`,"state_diff":null,"error":null,"performance_metrics":` + metrics + `,"custom_attributes":{}},"causality":{"parent_event_id":null,"root_cause_event_id":"` + id + `","dependency_chain":[],"span_id":"s"}}`
		}
		full := `{"execution_time_ns":1,"memory_usage_bytes":0,"cpu_usage_percent":0.0,"queue_depth":0,"throughput_msgs_per_sec":0.0}`
		snap := `{"message_type":"t","size_bytes":1,"checksum":""}`
		trace := func(e string) string {
			return `{"StoreTrace":{"trace":{"trace_id":"` + tracing.NewTraceID().String() + `","flow_id":"f","execution_id":"` + tracing.NewExecutionID().String() +
				`","version":{"major":1,"minor":0,"patch":0,"git_hash":null,"timestamp":"2026-01-01T00:00:00Z"},"start_time":"2026-01-01T00:00:00Z","end_time":null,"status":"Running","events":[` +
				e + `],"metadata":{"user_id":null,"session_id":null,"environment":"e","hostname":"h","process_id":1,"thread_id":"t","tags":{}}}}}`
		}
		for _, tt := range []struct{ name, msg string }{
			{"null metrics", `{"RecordEvent":{"trace_id":"` + tracing.NewTraceID().String() + `","event":` + ev(`{"execution_time_ns":1,"memory_usage_bytes":null,"cpu_usage_percent":null,"queue_depth":null,"throughput_msgs_per_sec":null}`, "null") + `}}`},
			{"empty metrics", trace(ev(`{}`, "null"))},
			{"snapshot without serialized_data", trace(ev(full, snap))},
		} {
			if _, err := wire.DecodeRequest([]byte(tt.msg)); err != nil && g == Gen2 {
				// The SDK's decoder, which the server reads generation-2
				// messages with, does not read this form yet.
				t.Logf("pending: %s, %s: %v", g, tt.name, err)
				continue
			}
			got := c.rawRoundTrip(tt.msg)
			if rejected := got == invalidReply; rejected != (g == Gen1) {
				t.Fatalf("%s, %s: reply %s", g, tt.name, got)
			}
		}
	}
}

// TestGen1DropsTheGen2SnapshotFields: generation 1's message snapshot has
// no content_codec, content_format_version or stored_bytes, so what it
// keeps and pushes has none; generation 2 keeps them.
func TestGen1DropsTheGen2SnapshotFields(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g))
		sub := dial(t, ctx, s, nil)
		pub := dial(t, ctx, s, nil)
		if r, ok := sub.roundTrip(wire.Subscribe{}).(wire.EventRecorded); !ok || !r.Success {
			t.Fatalf("subscribe %#v", r)
		}
		tr := newTrace(1)
		m := &tr.Events[0].Data.Message
		m.SerializedData = []byte{1, 2, 3}
		m.ContentCodec, m.ContentFormatVersion, m.StoredBytes, m.HasStoredBytes = "zstd", 1, 3, true
		want := *m
		if g == Gen1 {
			want.ContentCodec, want.ContentFormatVersion, want.StoredBytes, want.HasStoredBytes = "", 0, 0, false
		}
		storeTrace(t, pub, tr)
		td, ok := pub.roundTrip(wire.GetTrace{TraceID: tr.TraceID}).(wire.TraceData)
		if !ok || td.Trace == nil || len(td.Trace.Events) != 1 {
			t.Fatalf("GetTrace %#v", td)
		}
		if got := td.Trace.Events[0].Data.Message; !reflect.DeepEqual(got, want) {
			t.Errorf("stored snapshot %+v, want %+v", got, want)
		}
		if r, ok := pub.roundTrip(wire.RecordEvent{TraceID: tr.TraceID, Event: tr.Events[0]}).(wire.EventRecorded); !ok || !r.Success {
			t.Fatalf("RecordEvent %#v", r)
		}
		n, ok := sub.recv().(wire.EventNotification)
		if !ok {
			t.Fatalf("notification %#v", n)
		}
		if got := n.Event.Data.Message; !reflect.DeepEqual(got, want) {
			t.Errorf("pushed snapshot %+v, want %+v", got, want)
		}
	})
}
