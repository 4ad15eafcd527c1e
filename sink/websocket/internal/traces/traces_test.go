package traces

import (
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

func header(status tracing.StatusKind, end time.Time) tracing.FlowTrace {
	return tracing.FlowTrace{
		TraceID: tracing.NewTraceID(), FlowID: "flow",
		Status: tracing.ExecutionStatus{Kind: status}, EndTime: end,
	}
}

func TestCacheGetDefaultsAndKeeps(t *testing.T) {
	var c Cache
	def := tracing.FlowTrace{FlowID: "default", StartTime: time.Unix(1, 0).UTC()}
	id := tracing.NewTraceID()
	start := time.Unix(100, 5).UTC()
	got := c.Get(id, &def, start.UnixNano())
	if got.TraceID != id || got.FlowID != "default" || !got.StartTime.Equal(start) {
		t.Fatalf("default header %+v, want def with id %s and start %v", got, id, start)
	}
	if again := c.Get(id, &def, 0); !again.StartTime.Equal(start) {
		t.Fatalf("second Get built another header: start %v", again.StartTime)
	}
	if got := c.Get(tracing.NewTraceID(), &def, 0); !got.StartTime.Equal(def.StartTime) {
		t.Fatalf("start 0 changed the start time to %v", got.StartTime)
	}

	h := header(tracing.StatusRunning, time.Time{})
	h.Events = make([]tracing.TraceEvent, 3)
	c.Put(h)
	if got := c.Get(h.TraceID, &def, 0); got.FlowID != "flow" || got.Events != nil {
		t.Fatalf("Get after Put = %+v, want the header put, without events", got)
	}
	if ended := c.TakeEnded(time.Time{}); ended != nil {
		t.Fatalf("a running trace was handed out as ended: %v", ended)
	}
}

func TestCacheTakeEndedOnce(t *testing.T) {
	var c Cache
	now := time.Unix(1000, 0)
	early := header(tracing.StatusCompleted, now.Add(-time.Second))
	late := header(tracing.StatusFailed, now.Add(time.Second))
	c.Put(early)
	c.Put(late)
	c.Put(early) // ending twice hands it out once
	got := c.TakeEnded(now)
	if len(got) != 1 || got[0].TraceID != early.TraceID {
		t.Fatalf("TakeEnded(now) = %v, want the trace that ended before now", got)
	}
	got = c.TakeEnded(time.Time{})
	if len(got) != 1 || got[0].TraceID != late.TraceID {
		t.Fatalf("TakeEnded() = %v, want the trace left", got)
	}
	if got := c.TakeEnded(time.Time{}); got != nil {
		t.Fatalf("a third TakeEnded returned %v", got)
	}
}

func TestCacheForgetsTheOldest(t *testing.T) {
	var c Cache
	first := header(tracing.StatusCompleted, time.Unix(1, 0))
	c.Put(first)
	for range Max {
		c.Put(header(tracing.StatusRunning, time.Time{}))
	}
	def := tracing.FlowTrace{FlowID: "default"}
	if got := c.Get(first.TraceID, &def, 0); got.FlowID != "default" {
		t.Fatalf("the oldest of %d headers is still kept", Max+1)
	}
	if got := c.TakeEnded(time.Time{}); got != nil {
		t.Fatalf("a forgotten header was handed out: %v", got)
	}
	// Forgotten while it waited, then ended again: handed out once.
	c.Put(first)
	if got := c.TakeEnded(time.Time{}); len(got) != 1 || got[0].TraceID != first.TraceID {
		t.Fatalf("TakeEnded = %v, want the trace ended again, once", got)
	}
	if n := len(c.m); n > Max {
		t.Fatalf("%d headers kept, more than %d", n, Max)
	}
}

func TestCacheNext(t *testing.T) {
	var c Cache
	tr := tracing.FlowTrace{TraceID: tracing.NewTraceID(), Status: tracing.ExecutionStatus{Kind: tracing.StatusRunning}}
	c.SetNext(tr.TraceID, 3) // not kept: nothing to record
	if n := c.Next(tr.TraceID); n != 0 {
		t.Fatalf("Next of an unknown trace = %d, want 0", n)
	}
	c.Put(tr)
	c.SetNext(tr.TraceID, 3)
	c.SetNext(tr.TraceID, 2) // never back
	c.Put(tr)                // a new header keeps it
	if n := c.Next(tr.TraceID); n != 3 {
		t.Fatalf("Next = %d, want 3", n)
	}
}
