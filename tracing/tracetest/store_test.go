package tracetest

import (
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// bothGens runs f against a server of each generation.
func bothGens(t *testing.T, f func(t *testing.T, g Generation)) {
	for _, g := range []Generation{Gen1, Gen2} {
		t.Run(g.String(), func(t *testing.T) { f(t, g) })
	}
}

func storeTrace(t *testing.T, c *client, tr tracing.FlowTrace) {
	t.Helper()
	if r, ok := c.roundTrip(wire.StoreTrace{Trace: tr}).(wire.TraceStored); !ok || r.TraceID != tr.TraceID {
		t.Fatalf("StoreTrace reply %#v", r)
	}
}

func TestStoreTraceReplacesWhole(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g))
		c := dial(t, ctx, s, nil)
		tr := newTrace(3)
		first := tr.Events
		storeTrace(t, c, tr)
		// The acknowledgement means the trace is in memory: readable now.
		wantKept(t, s.Kept(), ids(first)...)
		tr.Events = events(2, "b")
		tr.Status = tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
		storeTrace(t, c, tr)
		wantKept(t, s.Kept(), ids(tr.Events)...)
		got := s.GetTrace(tr.TraceID)
		if got == nil || got.Status.Kind != tracing.StatusCompleted || len(got.Events) != 2 {
			t.Fatalf("stored %+v", got)
		}
		// A final StoreTrace with no events leaves none.
		tr.Events = nil
		storeTrace(t, c, tr)
		if got := s.KeptInTrace(tr.TraceID); len(got) != 0 {
			t.Fatalf("kept %v after an empty StoreTrace", got)
		}
		td, ok := c.roundTrip(wire.GetTrace{TraceID: tr.TraceID, RequestID: wire.NewRequestID()}).(wire.TraceData)
		if !ok || td.Trace == nil || len(td.Trace.Events) != 0 {
			t.Fatalf("GetTrace %#v", td)
		}
	})
}

func TestStoreTraceKeepsDuplicateEventIDs(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g))
		c := dial(t, ctx, s, nil)
		tr := newTrace(1)
		tr.Events = append(tr.Events, tr.Events[0])
		storeTrace(t, c, tr)
		if n := s.Kept()[tr.Events[0].EventID]; n != 2 {
			t.Fatalf("duplicate event kept %d times, want 2", n)
		}
		if got := s.GetTrace(tr.TraceID); len(got.Events) != 2 {
			t.Fatalf("%d events, want 2", len(got.Events))
		}
	})
}

func TestMaxTracesEvictsOldestStartTime(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g), WithMaxTraces(2))
		c := dial(t, ctx, s, nil)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		newer, oldest, third := newTrace(1), newTrace(1), newTrace(1)
		newer.StartTime, oldest.StartTime, third.StartTime = base.Add(time.Hour), base, base.Add(2*time.Hour)
		storeTrace(t, c, newer)
		storeTrace(t, c, oldest)
		storeTrace(t, c, third)
		if s.GetTrace(oldest.TraceID) != nil {
			t.Fatal("the trace with the oldest start time was not evicted")
		}
		if s.GetTrace(newer.TraceID) == nil || s.GetTrace(third.TraceID) == nil {
			t.Fatal("a newer trace was evicted")
		}
		if st := s.Stats(); st.Stored != 2 {
			t.Fatalf("%d stored, want 2", st.Stored)
		}
	})
	if _, err := Start(t.Context(), WithMaxTraces(0)); err == nil {
		t.Fatal("WithMaxTraces(0) accepted")
	}
}

func TestReadersReturnDeepCopies(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s, nil)
	tr := newTrace(1)
	tr.Events[0].Data.Message.SerializedData = []byte("hi")
	tr.Metadata.Tags = map[string]string{"k": "v"}
	storeTrace(t, c, tr)
	got := s.GetTrace(tr.TraceID)
	got.Events[0].Data.Message.SerializedData[0] = 'X'
	got.Metadata.Tags["k"] = "changed"
	got.Events[0].EventID = tracing.EventID{}
	for _, read := range []*tracing.FlowTrace{s.GetTrace(tr.TraceID), &s.Traces()[0], &s.Query(wire.TraceQuery{FlowID: "f"})[0]} {
		if string(read.Events[0].Data.Message.SerializedData) != "hi" || read.Metadata.Tags["k"] != "v" || read.Events[0].EventID != tr.Events[0].EventID {
			t.Fatalf("a returned trace shares memory with the stored one: %+v", read)
		}
	}
}

// TestQueryAppliesZeroValuedFields: the reference server applies every
// field a query holds, its zero value included (Rust's Some(0),
// Some("")); only an absent or null field is no constraint.
func TestQueryAppliesZeroValuedFields(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g))
		c := dial(t, ctx, s, nil)
		bare := newTrace(0)
		bare.FlowID, bare.ExecutionID = "", tracing.ExecutionID{}
		full := newTrace(2)
		storeTrace(t, c, bare)
		storeTrace(t, c, full)
		for _, tt := range []struct {
			query string
			want  []tracing.TraceID
		}{
			{`{}`, []tracing.TraceID{bare.TraceID, full.TraceID}},
			{`{"flow_id":null,"execution_id":null,"actor_filter":null,"limit":null,"offset":null}`, []tracing.TraceID{bare.TraceID, full.TraceID}},
			{`{"limit":0}`, nil},
			{`{"flow_id":""}`, []tracing.TraceID{bare.TraceID}},
			{`{"execution_id":"00000000-0000-0000-0000-000000000000"}`, []tracing.TraceID{bare.TraceID}},
			{`{"actor_filter":""}`, []tracing.TraceID{full.TraceID}},
		} {
			reply := c.rawRoundTrip(`{"QueryTraces":{"query":` + tt.query + `}}`)
			resp, err := wire.DecodeResponse([]byte(reply))
			if err != nil {
				t.Fatalf("query %s: reply %.200s: %v", tt.query, reply, err)
			}
			var got []tracing.FlowTrace
			switch r := resp.(type) {
			case wire.QueryResults:
				got = r.Traces
			case wire.TracesFound:
				got = r.Traces
			default:
				t.Fatalf("query %s: reply %.200s", tt.query, reply)
			}
			ids := map[tracing.TraceID]bool{}
			for _, tr := range got {
				ids[tr.TraceID] = true
			}
			if len(got) != len(tt.want) || !allIn(ids, tt.want) {
				t.Errorf("query %s: %d traces %v, want %v", tt.query, len(got), ids, tt.want)
			}
		}
	})
}

func allIn(m map[tracing.TraceID]bool, ids []tracing.TraceID) bool {
	for _, id := range ids {
		if !m[id] {
			return false
		}
	}
	return true
}
