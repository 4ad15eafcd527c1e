package testserver

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/internal/lz4block"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

type client struct {
	t    *testing.T
	c    *websocket.Conn
	enc  tracing.Encoder
	comp lz4block.Compressor
	ctx  context.Context
}

func dial(t *testing.T, ctx context.Context, url string, h http.Header) *client {
	t.Helper()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(32 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &client{t: t, c: c, ctx: ctx}
}

func (c *client) send(req tracing.TracingRequest, lz4 bool) {
	c.t.Helper()
	b := c.enc.AppendRequest(nil, req)
	typ := websocket.MessageText
	if lz4 {
		var err error
		if b, err = c.comp.AppendPrefixed(nil, b); err != nil {
			c.t.Fatal(err)
		}
		typ = websocket.MessageBinary
	}
	if err := c.c.Write(c.ctx, typ, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) recv() (tracing.TracingResponse, []byte, bool) {
	c.t.Helper()
	typ, data, err := c.c.Read(c.ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	binary := typ == websocket.MessageBinary
	if binary {
		if data, err = lz4block.DecodeRaw(nil, data); err != nil {
			c.t.Fatalf("compressed reply: %v", err)
		}
	}
	resp, err := tracing.DecodeResponse(data)
	if err != nil {
		c.t.Fatalf("reply %s: %v", data, err)
	}
	return resp, data, binary
}

func (c *client) roundTrip(req tracing.TracingRequest) tracing.TracingResponse {
	c.t.Helper()
	c.send(req, false)
	resp, _, _ := c.recv()
	return resp
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, ctx context.Context, opts ...Option) *Server {
	t.Helper()
	s, err := Start(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func events(n int, actor string) []tracing.TraceEvent {
	out := make([]tracing.TraceEvent, n)
	for i := range out {
		out[i] = tracing.MessageSent(actor, "out", "Reading", 64)
	}
	return out
}

func TestProtocol(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s.URL(), nil)
	trace := tracing.FlowTrace{TraceID: tracing.NewTraceID(), FlowID: "f", ExecutionID: tracing.NewExecutionID(),
		StartTime: time.Now().UTC(), Status: tracing.ExecutionStatus{Kind: tracing.StatusRunning}, Events: events(3, "a")}
	tests := []struct {
		name  string
		req   tracing.TracingRequest
		check func(t *testing.T, resp tracing.TracingResponse)
	}{
		{name: "ping", req: tracing.Ping{}, check: func(t *testing.T, r tracing.TracingResponse) {
			if _, ok := r.(tracing.Pong); !ok {
				t.Fatalf("%#v", r)
			}
		}},
		{name: "start trace", req: tracing.StartTrace{FlowID: "f"}, check: func(t *testing.T, r tracing.TracingResponse) {
			if ts, ok := r.(tracing.TraceStarted); !ok || ts.TraceID.IsZero() {
				t.Fatalf("%#v", r)
			}
		}},
		{name: "store trace", req: tracing.StoreTrace{Trace: trace}, check: func(t *testing.T, r tracing.TracingResponse) {
			if ts, ok := r.(tracing.TraceStored); !ok || ts.TraceID != trace.TraceID {
				t.Fatalf("%#v", r)
			}
		}},
		{name: "store again replaces by id", req: tracing.StoreTrace{Trace: trace}, check: func(t *testing.T, r tracing.TracingResponse) {
			if got := s.Trace(trace.TraceID); got == nil || len(got.Events) != 3 {
				t.Fatalf("stored %+v", got)
			}
		}},
		{name: "get trace", req: tracing.GetTrace{TraceID: trace.TraceID}, check: func(t *testing.T, r tracing.TracingResponse) {
			if td, ok := r.(tracing.TraceData); !ok || td.Trace == nil || len(td.Trace.Events) != 3 || td.Trace.FlowID != "f" {
				t.Fatalf("%#v", r)
			}
		}},
		{name: "get unknown trace", req: tracing.GetTrace{TraceID: tracing.NewTraceID()}, check: func(t *testing.T, r tracing.TracingResponse) {
			if td, ok := r.(tracing.TraceData); !ok || td.Trace != nil {
				t.Fatalf("%#v", r)
			}
		}},
		{name: "query", req: tracing.QueryTraces{Query: tracing.TraceQuery{FlowID: "f"}}, check: func(t *testing.T, r tracing.TracingResponse) {
			if q, ok := r.(tracing.QueryResults); !ok || q.TotalCount != 1 || len(q.Traces) != 1 {
				t.Fatalf("%#v", r)
			}
		}},
		{name: "record event not persisted", req: tracing.RecordEvent{TraceID: tracing.NewTraceID(), Event: events(1, "b")[0]},
			check: func(t *testing.T, r tracing.TracingResponse) {
				if er, ok := r.(tracing.EventRecorded); !ok || !er.Success {
					t.Fatalf("%#v", r)
				}
				if len(s.Live()) != 1 || len(s.Events()) != 3 {
					t.Fatalf("live %d stored %d", len(s.Live()), len(s.Events()))
				}
			}},
		{name: "flow versions", req: tracing.GetFlowVersions{FlowID: "f"}, check: func(t *testing.T, r tracing.TracingResponse) {
			if e, ok := r.(tracing.ErrorResponse); !ok || e.Code != tracing.CodeNotFound {
				t.Fatalf("%#v", r)
			}
		}},
		{name: "metrics", req: tracing.GetMetrics{}, check: func(t *testing.T, r tracing.TracingResponse) {
			if m, ok := r.(tracing.Metrics); !ok || len(m.Data) == 0 {
				t.Fatalf("%#v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, c.roundTrip(tt.req)) })
	}
}

func TestInvalidMessage(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s.URL(), nil)
	for _, msg := range []string{`{"Nope":{}}`, `not json`, `{"StoreTrace":{"trace":{"trace_id":1}}}`} {
		if err := c.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, data, _ := c.recv()
		if string(data) != `{"Error":{"message":"Invalid message format"}}` {
			t.Fatalf("reply to %s: %s", msg, data)
		}
	}
}

// TestCustomEventType checks that the server, like the reference one,
// rejects the {"Custom":"name"} event type and accepts the default encoding
// of a custom event (a NetworkEvent with an event_subtype attribute).
func TestCustomEventType(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	tests := []struct {
		name       string
		customType bool
		want       bool
	}{
		{"NetworkEvent with event_subtype", false, true},
		{"Custom variant", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, ctx, s.URL(), nil)
			c.enc.CustomEventType = tt.customType
			ev := tracing.CustomEvent("a", "checkpoint")
			resp := c.roundTrip(tracing.RecordEvent{TraceID: tracing.NewTraceID(), Event: ev})
			_, accepted := resp.(tracing.EventRecorded)
			if accepted != tt.want {
				t.Fatalf("reply %#v, want accepted=%v", resp, tt.want)
			}
		})
	}
}

func TestLZ4(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx, WithLZ4(true))
	c := dial(t, ctx, s.URL(), nil)
	trace := tracing.FlowTrace{TraceID: tracing.NewTraceID(), FlowID: "f", Events: events(20, "a")}
	c.send(tracing.StoreTrace{Trace: trace}, true)
	if r, _, binary := c.recv(); binary {
		t.Fatalf("short ack compressed: %#v", r)
	}
	c.send(tracing.GetTrace{TraceID: trace.TraceID}, false)
	r, data, binary := c.recv()
	if !binary || len(data) <= replyCompressMin {
		t.Fatalf("long reply of %d bytes not compressed", len(data))
	}
	if td, ok := r.(tracing.TraceData); !ok || td.Trace == nil || len(td.Trace.Events) != 20 {
		t.Fatalf("%#v", r)
	}
}

func TestSubscribe(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	sub := dial(t, ctx, s.URL(), nil)
	pub := dial(t, ctx, s.URL(), nil)
	r := sub.roundTrip(tracing.Subscribe{Filters: tracing.SubscriptionFilters{ActorIDs: []string{"wanted"}}})
	if er, ok := r.(tracing.EventRecorded); !ok || !er.Success {
		t.Fatalf("subscribe: %#v", r)
	}
	trace := tracing.NewTraceID()
	skip, want := events(1, "other")[0], events(1, "wanted")[0]
	pub.roundTrip(tracing.RecordEvent{TraceID: trace, Event: skip})
	pub.roundTrip(tracing.RecordEvent{TraceID: trace, Event: want})
	resp, _, _ := sub.recv()
	n, ok := resp.(tracing.EventNotification)
	if !ok || n.Event.EventID != want.EventID || n.TraceID != trace {
		t.Fatalf("notification %#v", resp)
	}
	if r := sub.roundTrip(tracing.Unsubscribe{}); r == nil {
		t.Fatal("no reply to Unsubscribe")
	}
}

func TestAPIKeyAndRefusal(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx, WithAPIKey("X-API-Key", "k"))
	if _, resp, err := websocket.Dial(ctx, s.URL(), nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without key: %v", err)
	}
	dial(t, ctx, s.URL(), http.Header{"X-Api-Key": {"k"}})
	s.RefuseNext(1, Refuse503)
	if _, resp, err := websocket.Dial(ctx, s.URL(), &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {"k"}}}); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("refused dial: %v", err)
	}
	if st := s.Stats(); st.Refused != 1 || st.Connects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaults(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s.URL(), nil)
	s.ErrorEvery(2, tracing.CodeStorageError, "locked")
	trace := tracing.FlowTrace{TraceID: tracing.NewTraceID(), Events: events(1, "a")}
	if _, ok := c.roundTrip(tracing.StoreTrace{Trace: trace}).(tracing.TraceStored); !ok {
		t.Fatal("first store failed")
	}
	if e, ok := c.roundTrip(tracing.StoreTrace{Trace: trace}).(tracing.ErrorResponse); !ok || e.Code != tracing.CodeStorageError {
		t.Fatalf("second store: %#v", e)
	}
	s.ErrorEvery(0, "", "")
	s.DropBeforeAck(1)
	c.send(tracing.StoreTrace{Trace: trace}, false)
	if _, _, err := c.c.Read(ctx); err == nil {
		t.Fatal("connection not dropped before the ack")
	}
	if s.Events()[trace.Events[0].EventID] != 2 {
		t.Fatalf("receipts %d, want 2 (the dropped ack's message was stored)", s.Events()[trace.Events[0].EventID])
	}
	s.Stop()
	if _, _, err := websocket.Dial(ctx, "ws://"+s.Addr(), nil); err == nil {
		t.Fatal("dial to a stopped server succeeded")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, ctx, s.URL(), nil)
	if _, ok := c2.roundTrip(tracing.Ping{}).(tracing.Pong); !ok {
		t.Fatal("no pong after restart")
	}
	if err := s.WaitFor(ctx, func(v View) bool { return v.Connects() == 2 }); err != nil {
		t.Fatal(err)
	}
	errCtx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.WaitFor(errCtx, func(View) bool { return false }); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor with a cancelled context: %v", err)
	}
}

func TestFastScan(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx, WithFastScan(true))
	c := dial(t, ctx, s.URL(), nil)
	evs := events(50, "a")
	trace := tracing.FlowTrace{TraceID: tracing.NewTraceID(), Events: evs}
	if ts, ok := c.roundTrip(tracing.StoreTrace{Trace: trace}).(tracing.TraceStored); !ok || ts.TraceID != trace.TraceID {
		t.Fatalf("%#v", ts)
	}
	got := s.Events()
	for _, ev := range evs {
		if got[ev.EventID] != 1 {
			t.Fatalf("event %s counted %d times", ev.EventID, got[ev.EventID])
		}
	}
	if len(got) != len(evs) {
		t.Fatalf("%d ids counted, want %d (causality ids must not count)", len(got), len(evs))
	}
}
