package tracetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func TestRepliesComeInOrderOnePerRequest(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g))
		c := dial(t, ctx, s, nil)
		trs := make([]tracing.FlowTrace, 20)
		for i := range trs {
			trs[i] = newTrace(1)
			c.send(wire.StoreTrace{Trace: trs[i]})
			c.send(wire.Ping{})
		}
		for i := range trs {
			if r, ok := c.recv().(wire.TraceStored); !ok || r.TraceID != trs[i].TraceID {
				t.Fatalf("reply %d: %#v", 2*i, r)
			}
			if _, ok := c.recv().(wire.Pong); !ok {
				t.Fatalf("reply %d is not Pong", 2*i+1)
			}
		}
	})
}

func TestInvalidMessageGetsTheLegacyError(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g))
		c := dial(t, ctx, s, nil)
		for _, msg := range []string{`{"Nope":{}}`, `not json`, `{"StoreTrace":{"trace":{"trace_id":1}}}`, `"Pong"`} {
			if got := c.rawRoundTrip(msg); got != invalidReply {
				t.Fatalf("reply to %s: %s", msg, got)
			}
		}
		if n := s.Stats().ByKind[KindInvalid]; n != 4 {
			t.Fatalf("%d invalid messages counted, want 4", n)
		}
	})
}

func TestGetFlowVersionsIsNotFound(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		c := dial(t, ctx, start(t, ctx, WithGeneration(g)), nil)
		if e, ok := c.roundTrip(wire.GetFlowVersions{FlowID: "f"}).(wire.ErrorResponse); !ok || e.Code != wire.CodeNotFound {
			t.Fatalf("%#v", e)
		}
	})
}

func TestPingGetsPong(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		c := dial(t, ctx, start(t, ctx, WithGeneration(g)), nil)
		if got := c.rawRoundTrip(`"Ping"`); got != `"Pong"` {
			t.Fatalf("reply %s", got)
		}
	})
}

// TestCustomEventTypeIsInvalid: the reference server has no Custom
// variant; a custom event in the default encoding (a NetworkEvent with an
// event_subtype attribute) is accepted.
func TestCustomEventTypeIsInvalid(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	for _, custom := range []bool{false, true} {
		c := dial(t, ctx, s, nil)
		c.enc.CustomEventType = custom
		resp := c.roundTrip(wire.RecordEvent{TraceID: tracing.NewTraceID(), Event: event.Custom("a", "checkpoint")})
		if _, accepted := resp.(wire.EventRecorded); accepted == custom {
			t.Fatalf("custom variant %v: reply %#v", custom, resp)
		}
	}
}

func TestSubscribePushesMatchingEvents(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g), WithCompression(transport.CompressionLZ4))
		sub := dial(t, ctx, s, nil)
		pub := dial(t, ctx, s, nil)
		flow := tracing.TraceEventType{Kind: tracing.KindDataFlow, ToActor: "b", ToPort: "in"}
		r := sub.roundTrip(wire.Subscribe{Filters: wire.SubscriptionFilters{ActorIDs: []string{"wanted"}, EventTypes: []tracing.TraceEventType{flow}}})
		if er, ok := r.(wire.EventRecorded); !ok || !er.Success {
			t.Fatalf("subscribe: %#v", r)
		}
		trace := tracing.NewTraceID()
		otherActor := events(1, "other")[0]
		otherActor.Type = flow
		otherType := events(1, "wanted")[0]
		otherPort := events(1, "wanted")[0]
		otherPort.Type = tracing.TraceEventType{Kind: tracing.KindDataFlow, ToActor: "b", ToPort: "x"}
		want := events(1, "wanted")[0]
		want.Type = flow
		want.Data.Message.SerializedData = make([]byte, 2000) // long, yet pushed as text
		recordEvents(t, pub, trace, []tracing.TraceEvent{otherActor, otherType, otherPort, want})
		typ, data, err := sub.c.Read(ctx)
		if err != nil || typ != websocket.MessageText {
			t.Fatalf("push: %v %v", typ, err)
		}
		resp, err := wire.DecodeResponse(data)
		if n, ok := resp.(wire.EventNotification); err != nil || !ok || n.Event.EventID != want.EventID || n.TraceID != trace {
			t.Fatalf("notification %#v %v", resp, err)
		}
		if _, ok := sub.roundTrip(wire.Unsubscribe{}).(wire.EventRecorded); !ok {
			t.Fatal("no EventRecorded for Unsubscribe")
		}
		recordEvents(t, pub, trace, []tracing.TraceEvent{want})
		if _, ok := sub.roundTrip(wire.Ping{}).(wire.Pong); !ok {
			t.Fatal("a push arrived after Unsubscribe")
		}
	})
}

// TestLegacySubscribeIsRefused: the reference server answers the legacy
// form, {"Subscribe":{"filter":…}}, with the legacy error and subscribes
// nothing.
func TestLegacySubscribeIsRefused(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g))
		sub := dial(t, ctx, s, nil)
		pub := dial(t, ctx, s, nil)
		const want = `{"Error":{"message":"Legacy subscription format - use TracingRequest::Subscribe instead"}}`
		if got := sub.rawRoundTrip(`{"Subscribe":{"filter":{"actor_ids":null,"event_types":null}}}`); got != want {
			t.Fatalf("reply %s, want %s", got, want)
		}
		recordEvents(t, pub, tracing.NewTraceID(), events(1, "a"))
		if r, ok := sub.roundTrip(wire.Ping{}).(wire.Pong); !ok {
			t.Fatalf("after a legacy Subscribe: %#v, want Pong (no push)", r)
		}
	})
}

func TestGetMetricsAnswersTheCounters(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g))
		c := dial(t, ctx, s, nil)
		storeTrace(t, c, newTrace(1))
		c.rawRoundTrip(`bad`)
		m, ok := c.roundTrip(wire.GetMetrics{}).(wire.Metrics)
		if !ok {
			t.Fatalf("%#v", m)
		}
		var got map[string]uint64
		if err := json.Unmarshal(m.Data, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]uint64{"connections_active": 1, "connections_total": 1, "errors_total": 0,
			"messages_received": 3, "messages_sent": 2, "traces_queried": 0, "traces_stored": 1}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s = %d, want %d (%s)", k, got[k], v, m.Data)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("counters %s", m.Data)
		}
		if !strings.HasPrefix(string(m.Data), `{"connections_active":`) {
			t.Fatalf("counters not in the reference's (sorted) order: %s", m.Data)
		}
	})
}

// TestNilContextNeverEnds checks that Start, Restart and WaitFor take a
// nil ctx as one that never ends.
func TestNilContextNeverEnds(t *testing.T) {
	var nilCtx context.Context
	s, err := Start(nilCtx)
	if err != nil {
		t.Fatalf("Start(nil): %v", err)
	}
	defer s.Close()
	s.Stop()
	if err := s.Restart(nilCtx); err != nil {
		t.Fatalf("Restart(nil): %v", err)
	}
	if err := s.WaitFor(nilCtx, func(View) bool { return true }); err != nil {
		t.Fatalf("WaitFor(nil): %v", err)
	}
}
