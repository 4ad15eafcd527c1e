package tracetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func startGen2(t *testing.T, opts ...Option) (*Server, *client) {
	t.Helper()
	ctx := testCtx(t)
	s := start(t, ctx, append([]Option{WithGeneration(Gen2)}, opts...)...)
	return s, dial(t, ctx, s, nil)
}

func startTrace(t *testing.T, c *client, id tracing.TraceID) {
	t.Helper()
	if r, ok := c.roundTrip(wire.StartTrace{TraceID: id, FlowID: "f", Version: tracing.FlowVersion{Major: 1}}).(wire.TraceStarted); !ok || r.TraceID != id {
		t.Fatalf("StartTrace reply %#v, want TraceStarted with the client's id", r)
	}
}

func recordEvents(t *testing.T, c *client, id tracing.TraceID, evs []tracing.TraceEvent) {
	t.Helper()
	for i := range evs {
		if r, ok := c.roundTrip(wire.RecordEvent{TraceID: id, Event: evs[i]}).(wire.EventRecorded); !ok || !r.Success {
			t.Fatalf("RecordEvent reply %#v", r)
		}
	}
}

func endTrace(t *testing.T, c *client, id tracing.TraceID, st tracing.ExecutionStatus) {
	t.Helper()
	if r, ok := c.roundTrip(wire.EndTrace{TraceID: id, Status: st}).(wire.EventRecorded); !ok || !r.Success {
		t.Fatalf("EndTrace reply %#v", r)
	}
}

// closeAndWait closes c normally and waits until the server has seen it.
func closeAndWait(t *testing.T, s *Server, c *client) {
	t.Helper()
	conns := s.Stats().Conns
	_ = c.c.Close(websocket.StatusNormalClosure, "")
	if err := s.WaitFor(c.ctx, func(v View) bool { return v.Conns() < conns }); err != nil {
		t.Fatal(err)
	}
}

func TestGen2StartTraceIsClientOwned(t *testing.T) {
	s, c := startGen2(t)
	id := tracing.NewTraceID()
	startTrace(t, c, id)
	got := s.GetTrace(id)
	if got == nil || got.Status.Kind != tracing.StatusRunning || got.FlowID != "f" || len(got.Events) != 0 || !got.EndTime.IsZero() {
		t.Fatalf("in-flight trace %+v", got)
	}
	for _, bad := range []string{`null`, `"not-a-uuid"`} {
		if r := c.rawRoundTrip(`{"StartTrace":{"trace_id":` + bad + `,"flow_id":"f","version":{"major":1,"minor":0,"patch":0,"git_hash":null,"timestamp":"2026-01-01T00:00:00Z"}}}`); r != invalidReply {
			t.Fatalf("StartTrace with trace_id %s: %s", bad, r)
		}
	}
	// Without trace_id the server picks one and opens that trace.
	r, ok := c.roundTrip(wire.StartTrace{FlowID: "g"}).(wire.TraceStarted)
	if !ok || r.TraceID.IsZero() || r.TraceID == id {
		t.Fatalf("StartTrace without trace_id: %#v", r)
	}
	if got := s.GetTrace(r.TraceID); got == nil || got.FlowID != "g" {
		t.Fatalf("server-picked trace %+v", got)
	}
	if st := s.Stats(); st.InFlight != 2 || st.Stored != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestGen2RecordEventAppendsToInFlightTrace(t *testing.T) {
	s, c := startGen2(t)
	id := tracing.NewTraceID()
	startTrace(t, c, id)
	evs := events(3, "a")
	evs = append(evs, evs[0]) // duplicates are kept as sent
	recordEvents(t, c, id, evs)
	got := s.KeptInTrace(id)
	if len(got) != 3 || got[evs[0].EventID] != 2 || got[evs[1].EventID] != 1 {
		t.Fatalf("kept %v", got)
	}
	if tr := s.GetTrace(id); tr.FlowID != "f" || len(tr.Events) != 4 {
		t.Fatalf("trace %+v", tr)
	}
}

func TestGen2RecordEventOfUnknownTraceOpensItLazily(t *testing.T) {
	s, c := startGen2(t)
	id := tracing.NewTraceID()
	evs := events(2, "a")
	recordEvents(t, c, id, evs)
	got := s.GetTrace(id)
	if got == nil || got.FlowID != "unknown" || got.Version.Major+got.Version.Minor+got.Version.Patch != 0 || got.Status.Kind != tracing.StatusRunning {
		t.Fatalf("lazily opened trace %+v", got)
	}
	wantKept(t, s.KeptInTrace(id), ids(evs)...)
	// Not tied to the connection: it stays in flight after the close.
	closeAndWait(t, s, c)
	if st := s.Stats(); st.InFlight != 1 || st.Stored != 0 {
		t.Fatalf("after the close: %+v", st)
	}
	wantKept(t, s.Kept(), ids(evs)...)
}

func TestGen2EndTraceStoresTheTrace(t *testing.T) {
	s, c := startGen2(t)
	id := tracing.NewTraceID()
	old := newTrace(2)
	old.TraceID = id
	storeTrace(t, c, old)
	startTrace(t, c, id)
	evs := events(3, "a")
	recordEvents(t, c, id, evs)
	endTrace(t, c, id, tracing.FailedStatus("boom"))
	got := s.GetTrace(id)
	if got == nil || got.Status != tracing.FailedStatus("boom") || got.EndTime.IsZero() || got.EndTime.Before(got.StartTime) {
		t.Fatalf("stored trace %+v", got)
	}
	// The in-flight trace replaced the stored one whole.
	wantKept(t, s.Kept(), ids(evs)...)
	if st := s.Stats(); st.InFlight != 0 || st.Stored != 1 {
		t.Fatalf("stats %+v", st)
	}
	// An unknown or already ended id is a success that changes nothing.
	endTrace(t, c, id, tracing.ExecutionStatus{Kind: tracing.StatusCancelled})
	endTrace(t, c, tracing.NewTraceID(), tracing.ExecutionStatus{Kind: tracing.StatusCompleted})
	if got := s.GetTrace(id); got.Status != tracing.FailedStatus("boom") || s.Stats().Stored != 1 {
		t.Fatalf("a second EndTrace changed the trace: %+v", got)
	}
}

func TestGen2DisconnectStoresTracesStartedOnTheConnection(t *testing.T) {
	s, c := startGen2(t)
	// A binary StartTrace is TestGen2BinaryStartTraceIsNotFinalised.
	started, lazy := tracing.NewTraceID(), tracing.NewTraceID()
	startTrace(t, c, started)
	recordEvents(t, c, started, events(3, "a"))
	recordEvents(t, c, lazy, events(1, "a"))
	closeAndWait(t, s, c)
	got := s.GetTrace(started)
	if got == nil || got.Status.Kind != tracing.StatusCompleted || got.EndTime.IsZero() || len(got.Events) != 3 {
		t.Fatalf("trace of the closed connection %+v", got)
	}
	if st := s.Stats(); st.Stored != 1 || st.InFlight != 1 {
		t.Fatalf("stats %+v (the lazily opened trace stays in flight)", st)
	}
}

func TestGen2BinaryStartTraceIsNotFinalised(t *testing.T) {
	s, c := startGen2(t, WithCompression(transport.CompressionLZ4))
	id := tracing.NewTraceID()
	c.sendRaw(c.enc.AppendRequest(nil, wire.StartTrace{TraceID: id, FlowID: "f"}), true)
	if r, ok := c.recv().(wire.TraceStarted); !ok || r.TraceID != id {
		t.Fatalf("binary StartTrace: %#v", r)
	}
	recordEvents(t, c, id, events(2, "a"))
	closeAndWait(t, s, c)
	if st := s.Stats(); st.Stored != 0 || st.InFlight != 1 {
		t.Fatalf("stats %+v: a trace started in a binary frame belongs to no connection", st)
	}
}

func TestGen2RecordEventAfterEndTraceReopensTheTrace(t *testing.T) {
	s, c := startGen2(t)
	id := tracing.NewTraceID()
	startTrace(t, c, id)
	recordEvents(t, c, id, events(3, "a"))
	endTrace(t, c, id, tracing.ExecutionStatus{Kind: tracing.StatusCompleted})
	late := events(1, "a")
	recordEvents(t, c, id, late)
	got := s.GetTrace(id)
	if got.FlowID != "unknown" || got.Status.Kind != tracing.StatusRunning {
		t.Fatalf("reopened trace %+v", got)
	}
	wantKept(t, s.Kept(), ids(late)...)
	endTrace(t, c, id, tracing.ExecutionStatus{Kind: tracing.StatusCompleted})
	wantKept(t, s.Kept(), ids(late)...) // it replaced the stored trace
}

func TestGen2InFlightTraceHidesStoredOne(t *testing.T) {
	s, c := startGen2(t)
	stored := newTrace(2)
	storeTrace(t, c, stored)
	startTrace(t, c, stored.TraceID)
	evs := events(1, "a")
	recordEvents(t, c, stored.TraceID, evs)
	wantKept(t, s.Kept(), ids(evs)...)
	td, ok := c.roundTrip(wire.GetTrace{TraceID: stored.TraceID, RequestID: wire.NewRequestID()}).(wire.TraceData)
	if !ok || td.Trace == nil || td.Trace.Status.Kind != tracing.StatusRunning || len(td.Trace.Events) != 1 {
		t.Fatalf("GetTrace %#v", td)
	}
	// QueryTraces is the other way round: the stored trace hides the
	// in-flight one with its id.
	qr, ok := c.roundTrip(wire.QueryTraces{RequestID: wire.NewRequestID()}).(wire.QueryResults)
	if !ok || len(qr.Traces) != 1 || qr.TotalCount != 1 || len(qr.Traces[0].Events) != 2 {
		t.Fatalf("QueryTraces %#v", qr)
	}
	// The legacy path reads storage only.
	if got := c.rawRoundTrip(`{"GetTrace":{"trace_id":"` + stored.TraceID.String() + `","request_id":null}}`); !strings.Contains(got, stored.Events[1].EventID.String()) {
		t.Fatalf("legacy GetTrace: %.200s", got)
	}
}

// TestGen2QueryMergesInFlightTracesAfterStorage checks QueryTraces as the
// reference answers it: the storage backend's page (offset and limit
// applied to the stored traces), then the in-flight traces not in it,
// matched with an exact actor filter, and the whole cut to limit.
func TestGen2QueryMergesInFlightTracesAfterStorage(t *testing.T) {
	_, c := startGen2(t)
	var stored []tracing.FlowTrace
	for i := range 3 {
		tr := newTrace(0)
		tr.Events = events(1, "sensor-1")
		tr.StartTime = tr.StartTime.Add(time.Duration(i) * time.Second)
		storeTrace(t, c, tr)
		stored = append(stored, tr)
	}
	flying := tracing.NewTraceID()
	startTrace(t, c, flying)
	recordEvents(t, c, flying, events(1, "sensor"))
	query := func(q wire.TraceQuery) []tracing.TraceID {
		t.Helper()
		qr, ok := c.roundTrip(wire.QueryTraces{Query: q, RequestID: wire.NewRequestID()}).(wire.QueryResults)
		if !ok || qr.TotalCount != uint64(len(qr.Traces)) {
			t.Fatalf("QueryTraces %+v: %#v", q, qr)
		}
		var out []tracing.TraceID
		for _, tr := range qr.Traces {
			out = append(out, tr.TraceID)
		}
		return out
	}
	newest := []tracing.TraceID{stored[2].TraceID, stored[1].TraceID, stored[0].TraceID}
	for _, tc := range []struct {
		name string
		q    wire.TraceQuery
		want []tracing.TraceID
	}{
		{"all", wire.TraceQuery{}, append(newest, flying)},
		{"offset pages storage only", wire.TraceQuery{Offset: 2}, []tracing.TraceID{stored[0].TraceID, flying}},
		{"offset past storage", wire.TraceQuery{Offset: 5}, []tracing.TraceID{flying}},
		{"limit", wire.TraceQuery{Limit: 2}, newest[:2]},
		{"limit after the merge", wire.TraceQuery{Offset: 2, Limit: 2}, []tracing.TraceID{stored[0].TraceID, flying}},
		// The backend's actor filter is a substring of an actor id, the
		// in-flight one an exact actor id.
		{"actor of both", wire.TraceQuery{ActorFilter: "sensor"}, append(newest, flying)},
		{"actor substring", wire.TraceQuery{ActorFilter: "sens"}, newest},
	} {
		if got := query(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestGen2RequestIDIsEchoedOrMadeUp(t *testing.T) {
	_, c := startGen2(t)
	rid := wire.NewRequestID()
	if td, ok := c.roundTrip(wire.GetTrace{TraceID: tracing.NewTraceID(), RequestID: rid}).(wire.TraceData); !ok || td.RequestID != rid || td.Trace != nil {
		t.Fatalf("GetTrace %#v", td)
	}
	if qr, ok := c.roundTrip(wire.QueryTraces{RequestID: rid}).(wire.QueryResults); !ok || qr.RequestID != rid {
		t.Fatalf("QueryTraces %#v", qr)
	}
	if td, ok := c.roundTrip(wire.GetTrace{TraceID: tracing.NewTraceID()}).(wire.TraceData); !ok || td.RequestID.IsZero() {
		t.Fatalf("GetTrace without request_id: %#v", td)
	}
	if qr, ok := c.roundTrip(wire.QueryTraces{}).(wire.QueryResults); !ok || qr.RequestID.IsZero() {
		t.Fatalf("QueryTraces without request_id: %#v", qr)
	}
}

func TestGen2NullOrNonUUIDRequestIDTakesTheLegacyPath(t *testing.T) {
	_, c := startGen2(t)
	inflight := tracing.NewTraceID()
	startTrace(t, c, inflight)
	stored := newTrace(1)
	storeTrace(t, c, stored)
	for _, rid := range []string{`null`, `"nope"`, `7`} {
		want := `{"Error":{"message":"Trace not found: ` + inflight.String() + `"}}`
		if got := c.rawRoundTrip(`{"GetTrace":{"trace_id":"` + inflight.String() + `","request_id":` + rid + `}}`); got != want {
			t.Fatalf("legacy GetTrace of an in-flight trace: %s, want %s", got, want)
		}
		got := c.rawRoundTrip(`{"QueryTraces":{"query":{},"request_id":` + rid + `}}`)
		resp, err := wire.DecodeResponse([]byte(got))
		if err != nil || !strings.HasPrefix(got, `{"TracesFound":`) {
			t.Fatalf("legacy QueryTraces: %.200s %v", got, err)
		}
		if tf, _ := resp.(wire.TracesFound); len(tf.Traces) != 1 || tf.Traces[0].TraceID != stored.TraceID {
			t.Fatalf("legacy QueryTraces answered %d traces, want the stored one", len(tf.Traces))
		}
	}
}

func TestGen2AcceptsUnmeasuredMetrics(t *testing.T) {
	s, c := startGen2(t)
	id, ev := tracing.NewTraceID(), tracing.NewEventID()
	msg := `{"RecordEvent":{"trace_id":"` + id.String() + `","event":{"event_id":"` + ev.String() + `","timestamp":"2026-01-01T00:00:00Z","event_type":"ActorStarted","actor_id":"a",` +
		`"data":{"port":null,"message":null,"state_diff":null,"error":null,"performance_metrics":{"execution_time_ns":5,"memory_usage_bytes":null,"cpu_usage_percent":null},"custom_attributes":{}},` +
		`"causality":{"parent_event_id":null,"root_cause_event_id":"` + ev.String() + `","dependency_chain":[],"span_id":"s"}}}}`
	if got := c.rawRoundTrip(msg); got != `{"EventRecorded":{"success":true,"error":null}}` {
		t.Fatalf("reply %s", got)
	}
	got := s.GetTrace(id)
	if got == nil || len(got.Events) != 1 {
		t.Fatalf("kept %+v", got)
	}
	m := got.Events[0].Data.PerformanceMetrics
	if m.ExecutionTimeNs != 5 || !m.Measured(tracing.MetricExecutionTimeNs) || m.Measured(tracing.MetricMemoryUsageBytes) || m.Measured(tracing.MetricQueueDepth) {
		t.Fatalf("metrics %+v", m)
	}
}

// TestGen2DisconnectFinalisesOnlyTracesTheConnectionOwns: when a second
// connection re-starts trace X while the first is still open, the first
// connection's close must not store (and so cut short) the second's trace.
func TestGen2DisconnectFinalisesTheIDsTheConnectionStarted(t *testing.T) {
	s, first := startGen2(t)
	second := dial(t, first.ctx, s, nil)
	id := tracing.NewTraceID()
	startTrace(t, first, id)
	recordEvents(t, first, id, events(2, "a"))
	startTrace(t, second, id)
	evs := events(1, "b")
	recordEvents(t, second, id, evs)
	// The first connection started the id: its close stores the trace in
	// flight under it, although the second connection started it again.
	closeAndWait(t, s, first)
	if st := s.Stats(); st.Stored != 1 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
	if got := s.GetTrace(id); got.Status.Kind != tracing.StatusCompleted {
		t.Fatalf("trace %+v", got)
	}
	wantKept(t, s.Kept(), ids(evs)...)
	// The second connection's next event opens the id again, and its close
	// stores that trace, with only that event, in place of the other.
	late := events(1, "b")
	recordEvents(t, second, id, late)
	closeAndWait(t, s, second)
	if st := s.Stats(); st.Stored != 1 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
	wantKept(t, s.Kept(), ids(late)...)
}

// TestGen2ReconnectReplacesTheStoredTrace is the sequence seen on the
// reference: 3 events stored at disconnect, then StartTrace again on a new
// connection, 2 events, EndTrace: 2 kept.
func TestGen2ReconnectReplacesTheStoredTrace(t *testing.T) {
	s, c := startGen2(t)
	id := tracing.NewTraceID()
	startTrace(t, c, id)
	recordEvents(t, c, id, events(3, "a"))
	closeAndWait(t, s, c)
	if n := len(s.KeptInTrace(id)); n != 3 {
		t.Fatalf("%d events stored at the disconnect, want 3", n)
	}
	c2 := dial(t, c.ctx, s, nil)
	startTrace(t, c2, id)
	evs := events(2, "a")
	recordEvents(t, c2, id, evs)
	endTrace(t, c2, id, tracing.ExecutionStatus{Kind: tracing.StatusCompleted})
	wantKept(t, s.Kept(), ids(evs)...)
}
