package ingest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// ingestLines returns n distinct events as JSON Lines, with their ids.
func ingestLines(t testing.TB, n int) ([]string, []tracing.EventID) {
	t.Helper()
	var lines []string
	var ids []tracing.EventID
	for i := range n {
		ev := event.DataFlow("a", "out", "b", "in", "T", uint64(i))
		b, err := wire.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
		ids = append(ids, ev.EventID)
	}
	return lines, ids
}

func newIngestClient(t testing.TB) (*tracing.TracingClient, *recordSink) {
	sink := &recordSink{}
	cfg := tracing.DefaultConfig()
	cfg.BatchSize = 16
	cfg.QueueSize = 256
	cfg.BatchTimeout = time.Millisecond
	cfg.FlowID = "test-flow"
	cfg.QueuePolicy = batch.Block
	c, err := tracing.New(cfg, tracing.WithSink(sink))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, sink
}

func TestIngest_Forms(t *testing.T) {
	golden := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "wire", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(bytes.TrimSpace(b))
	}
	lines, _ := ingestLines(t, 3)
	v2 := golden("event_DataFlow_unmeasured_v2.golden.json") // null metrics, span id
	v1 := golden("event_ActorCreated.golden.json")
	pretty := "{\n  \"event_id\": \"0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a99\",\n  \"timestamp\": \"2026-11-26T10:30:00.500Z\",\n" +
		"  \"event_type\": \"ActorStarted\",\n  \"actor_id\": \"x\",\n  \"data\": {\"port\": null, \"message\": null, \"state_diff\": null, \"error\": null,\n" +
		"    \"performance_metrics\": {\"execution_time_ns\": null}, \"custom_attributes\": {}},\n" +
		"  \"causality\": {\"parent_event_id\": null, \"root_cause_event_id\": \"0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a99\", \"dependency_chain\": [], \"span_id\": \"9d2f3b5c8e0f1a99\"}\n}"
	tests := []struct {
		name  string
		input string
		want  int
	}{
		{"one event", v1, 1},
		{"one event, generation 2", v2, 1},
		{"pretty-printed", pretty, 1},
		{"array", "[" + strings.Join(lines, ",") + "]", 3},
		{"array, one per line", "[\n" + strings.Join(lines, ",\n") + "\n]\n", 3},
		{"empty array", "[]", 0},
		{"JSON Lines", strings.Join(lines, "\n") + "\n", 3},
		{"CRLF lines", strings.Join(lines, "\r\n"), 3},
		{"concatenated", strings.Join(lines, ""), 3},
		{"mixed", v1 + "\n" + pretty + "\n[" + lines[0] + "]\n" + lines[1], 4},
		{"empty", "", 0},
		{"blank", "\n\n  \n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxTimeout(t)
			c, sink := newIngestClient(t)
			tctx, trace, err := c.StartTrace(ctx, "ingested", tracing.FlowVersion{})
			if err != nil {
				t.Fatal(err)
			}
			tctx = tracing.ContextWithEvent(tctx, tracing.NewEventID()) // not taken by ingested events
			st, err := Read(tctx, c, iotest.OneByteReader(strings.NewReader(tt.input)))
			if err != nil || st.Events != tt.want || st.Rejected != 0 {
				t.Fatalf("Ingest = %+v, %v; want %d events, none rejected", st, err, tt.want)
			}
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			got := sink.snapshot()
			if len(got) != tt.want {
				t.Fatalf("delivered %d events, want %d", len(got), tt.want)
			}
			for _, ev := range got {
				if ev.TraceID != trace {
					t.Fatalf("event in trace %v, want ctx's %v", ev.TraceID, trace)
				}
				if !ev.Causality.ParentEventID.IsZero() || ev.Causality.RootCauseEventID != ev.EventID {
					t.Fatalf("ingested event's causality changed: %+v", ev.Causality)
				}
			}
		})
	}
}

// TestIngest_Malformed mixes valid events with every kind of bad input:
// each bad one is rejected with its line, offset and reason, and every
// valid one around it is kept.
func TestIngest_Malformed(t *testing.T) {
	lines, ids := ingestLines(t, 6)
	torn := lines[1][:len(lines[1])/2]
	badField := strings.Replace(lines[2], `"actor_id":"a"`, `"actor_id":7`, 1)
	input := strings.Join([]string{
		lines[0],   // line 1: kept
		torn,       // line 2: torn, resynchronized at line 3
		lines[1],   // line 3: kept
		"not json", // line 4
		badField,   // line 5: a wrong type
		"[" + lines[2] + ", 42, {\"x\":1}, " + lines[3] + "]", // line 6: two bad elements
		"{}",     // line 7: not an event
		lines[4], // line 8: kept
		`{"event_id": "` + strings.Repeat("\\\"", 3), // line 9: unterminated string
		lines[5],      // line 10: kept
		lines[5][:40], // line 11: truncated at the end of input
	}, "\n")
	ctx := ctxTimeout(t)
	c, sink := newIngestClient(t)
	st, err := Read(ctx, c, strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	wantLines := []int{2, 4, 5, 6, 6, 7, 9, 11}
	if st.Events != 6 || st.Rejected != len(wantLines) || len(st.Rejects) != len(wantLines) {
		t.Fatalf("Ingest = %d events, %d rejected (%v); want 6, %d", st.Events, st.Rejected, st.Rejects, len(wantLines))
	}
	lineOff := []int64{0}
	for i, l := range strings.Split(input, "\n") {
		lineOff = append(lineOff, lineOff[i]+int64(len(l))+1)
	}
	for i, r := range st.Rejects {
		if r.Line != wantLines[i] || !errors.Is(r, tracing.ErrMalformed) || r.Err == nil {
			t.Fatalf("reject %d: %v; want line %d wrapping ErrMalformed", i, r, wantLines[i])
		}
		if r.Line != 6 && r.Offset != lineOff[r.Line-1] {
			t.Fatalf("reject %d at offset %d, want %d (start of line %d)", i, r.Offset, lineOff[r.Line-1], r.Line)
		}
		if !strings.Contains(r.Error(), "line ") {
			t.Fatalf("reject message %q names no line", r.Error())
		}
	}
	if r := st.Rejects[3]; r.Offset != lineOff[5]+int64(len(lines[2])+3) {
		t.Fatalf("array element rejected at offset %d, want %d", r.Offset, lineOff[5]+int64(len(lines[2])+3))
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		sink.find(t, id)
	}
	if len(sink.snapshot()) != 6 {
		t.Fatalf("delivered %d events, want 6", len(sink.snapshot()))
	}
}

func TestIngest_TooLarge(t *testing.T) {
	lines, ids := ingestLines(t, 2)
	big := `{"event_id":"` + strings.Repeat("x", MaxEventBytes) + `"}`
	ctx := ctxTimeout(t)
	c, sink := newIngestClient(t)
	st, err := Read(ctx, c, strings.NewReader(lines[0]+"\n"+big+"\n"+lines[1]))
	if err != nil || st.Events != 2 || st.Rejected != 1 || !strings.Contains(st.Rejects[0].Error(), "larger than") || st.Rejects[0].Line != 2 {
		t.Fatalf("Ingest = %+v, %v", st, err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sink.find(t, ids[0])
	sink.find(t, ids[1])
}

func TestIngest_Stops(t *testing.T) {
	lines, _ := ingestLines(t, 3)
	input := strings.Join(lines, "\n")

	// A read error: what came before is kept, the error is returned.
	ctx := ctxTimeout(t)
	c, _ := newIngestClient(t)
	errRead := errors.New("disk gone")
	st, err := Read(ctx, c, readerThenError(lines[0]+"\n"+lines[1][:10], errRead))
	if !errors.Is(err, errRead) || st.Events != 1 || st.Rejected != 1 {
		t.Fatalf("Ingest with a failing reader = %+v, %v", st, err)
	}

	// An ended ctx.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Read(done, c, strings.NewReader(input)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ingest with an ended ctx = %v", err)
	}

	// A closed client.
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := Read(ctx, c, strings.NewReader(input)); !errors.Is(err, tracing.ErrClosed) || st.Events != 0 {
		t.Fatalf("Ingest after Close = %+v, %v", st, err)
	}

	// A disabled client decodes and counts.
	if st, err := Read(ctx, tracing.NewNop(), strings.NewReader(input+"\nbad")); err != nil || st.Events != 3 || st.Rejected != 1 {
		t.Fatalf("disabled Ingest = %+v, %v", st, err)
	}
}

// readerThenError reads s, then fails with err.
func readerThenError(s string, err error) *errReader {
	return &errReader{r: strings.NewReader(s), err: err}
}

type errReader struct {
	r   *strings.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	if e.r.Len() == 0 {
		return 0, e.err
	}
	return e.r.Read(p)
}

// FuzzIngest puts arbitrary bytes on a line between two valid events:
// Ingest never panics, and both events are always kept.
func FuzzIngest(f *testing.F) {
	seed, _ := ingestLines(f, 1)
	for _, s := range []string{"", "{", "[", "]", `{"a":"`, `[{"x":`, "\\", `"\`, "{}", "[1,2", seed[0][:30], "}", "[]]"} {
		f.Add(s)
	}
	c, sink := newIngestClient(f)
	f.Fuzz(func(t *testing.T, junk string) {
		junk = strings.ReplaceAll(junk, "\n", " ")
		lines, ids := ingestLines(t, 2) // new ids in every run
		ctx := ctxTimeout(t)
		if _, err := Read(ctx, c, strings.NewReader(lines[0]+"\n"+junk+"\n"+lines[1]+"\n")); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		sink.find(t, ids[0])
		sink.find(t, ids[1])
	})
}

// TestIngest_TornThenGarbage: a torn line followed by a line that is not
// JSON are two rejections, each on its own line.
func TestIngest_TornThenGarbage(t *testing.T) {
	lines, ids := ingestLines(t, 2)
	ctx := ctxTimeout(t)
	c, sink := newIngestClient(t)
	st, err := Read(ctx, c, strings.NewReader(lines[0][:50]+"\nnot json\n"+lines[0]+"\n  "+lines[1]))
	if err != nil || st.Events != 2 || st.Rejected != 2 || st.Rejects[0].Line != 1 || st.Rejects[1].Line != 2 {
		t.Fatalf("Ingest = %+v, %v; want 2 events, rejections on lines 1 and 2", st, err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sink.find(t, ids[0])
	sink.find(t, ids[1])
}

// An array element that is not an object is skipped whole: a ',' or ']'
// inside its strings or nested brackets does not end it, and the events
// after it on the same line are kept.
func TestIngest_ArraySkipsWholeElements(t *testing.T) {
	lines, ids := ingestLines(t, 3)
	input := "[" + `"x], [y"` + ", " + lines[0] + `, [1, {"s": "],"}, [2, 3]], ` + lines[1] + `, "a\"]", ` + lines[2] + "]\n"
	ctx := ctxTimeout(t)
	c, sink := newIngestClient(t)
	st, err := Read(ctx, c, strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 3 || st.Rejected != 3 {
		t.Fatalf("Ingest = %d events, %d rejected (%v); want 3 events, 3 rejected", st.Events, st.Rejected, st.Rejects)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		sink.find(t, id)
	}
}
