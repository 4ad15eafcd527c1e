package wire

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// transcriptStep is one line of a reference transcript: what was sent to
// Reflow's own tracing server and what it answered (see
// testdata/reference-transcripts/README.md).
type transcriptStep struct {
	Step      string `json:"step"`
	SentKind  string `json:"sent_kind"`
	Sent      string `json:"sent"`
	ReplyKind string `json:"reply_kind"`
	ReplyB64  string `json:"reply_b64"`
	Reply     string `json:"reply"`
}

// readTranscripts returns the steps of every reference transcript by file
// name (e.g. "gen2-zstd").
func readTranscripts(t *testing.T) map[string][]transcriptStep {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "reference-transcripts", "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 10 {
		t.Fatalf("found %d transcripts, want 10 (2 generations × 5 compression settings)", len(paths))
	}
	out := make(map[string][]transcriptStep)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<24)
		name := strings.TrimSuffix(filepath.Base(p), ".jsonl")
		for sc.Scan() {
			var s transcriptStep
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			out[name] = append(out[name], s)
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		_ = f.Close()
	}
	return out
}

// TestTranscripts decodes every message sent to and every reply received
// from the reference server, both generations, every compression setting.
// A sent message re-encodes to the same JSON (read back equal) and the
// malformed one is rejected where the server rejects it.
func TestTranscripts(t *testing.T) {
	for name, steps := range readTranscripts(t) {
		t.Run(name, func(t *testing.T) {
			for i, s := range steps {
				t.Run(s.Step, func(t *testing.T) {
					checkTranscriptRequest(t, &s)
					if s.Reply == "" {
						if !strings.HasPrefix(s.ReplyKind, "skipped") && s.ReplyKind != "none" {
							t.Fatalf("step %d: reply_kind %q without a reply", i, s.ReplyKind)
						}
						return
					}
					resp, err := DecodeResponse([]byte(s.Reply))
					if err != nil {
						t.Fatalf("reply rejected: %v\n%s", err, s.Reply)
					}
					// The generation-2 form keeps everything the reply says.
					e := Encoder{Protocol: transport.ProtocolV2}
					out := e.AppendResponse(nil, resp)
					back, err := DecodeResponse(out)
					if err != nil {
						t.Fatalf("re-encoded reply rejected: %v\n%s", err, out)
					}
					if !reflect.DeepEqual(back, resp) {
						t.Errorf("re-encoded reply reads back differently:\n%.300s", out)
					}
					if again := e.AppendResponse(nil, back); !bytes.Equal(again, out) {
						t.Errorf("encode(decode(encode(reply))) != encode(reply):\n got %.300s\nwant %.300s", again, out)
					}
					if s.ReplyKind == "binary" && strings.HasSuffix(name, "-lz4") {
						raw, err := base64.StdEncoding.DecodeString(s.ReplyB64)
						if err != nil {
							t.Fatal(err)
						}
						framed, err := DecodeResponseFrame(true, raw)
						if err != nil {
							t.Fatalf("lz4 binary reply rejected: %v", err)
						}
						if !reflect.DeepEqual(framed, resp) {
							t.Errorf("lz4 binary reply differs from its JSON")
						}
					}
				})
			}
		})
	}
}

// checkTranscriptRequest decodes the message a step sent and re-encodes it.
func checkTranscriptRequest(t *testing.T, s *transcriptStep) {
	t.Helper()
	req, err := DecodeRequest([]byte(s.Sent))
	if strings.HasPrefix(s.Step, "malformed") {
		// The server rejects the message whole, bytes written as base64.
		if err == nil || !errors.Is(err, tracing.ErrMalformed) || !strings.Contains(err.Error(), "serialized_data: want an array") {
			t.Fatalf("malformed message: error %v, want ErrMalformed naming serialized_data", err)
		}
		if req != nil {
			t.Fatalf("malformed message decoded to %#v", req)
		}
		return
	}
	if err != nil {
		t.Fatalf("sent message rejected: %v\n%s", err, s.Sent)
	}
	e := Encoder{Protocol: transport.ProtocolV2}
	out := e.AppendRequest(nil, req)
	back, err := DecodeRequest(out)
	if err != nil {
		t.Fatalf("re-encoded request rejected: %v\n%s", err, out)
	}
	if again := e.AppendRequest(nil, back); !bytes.Equal(again, out) {
		t.Errorf("encode(decode(encode(sent))) != encode(sent):\n got %.300s\nwant %.300s", again, out)
	}
	if !reflect.DeepEqual(back, req) {
		t.Errorf("re-encoded request reads back differently:\n%.300s", out)
	}
	if !wireJSONEqual(t, out, []byte(s.Sent)) {
		t.Errorf("re-encoded request differs:\n got %s\nwant %s", out, s.Sent)
	}
	// The generation-1 form writes a field not measured as 0.
	v1 := new(Encoder).AppendRequest(nil, req)
	if strings.Contains(s.Sent, `"memory_usage_bytes": null`) == wireJSONEqual(t, v1, []byte(s.Sent)) {
		t.Errorf("generation-1 form of the request:\n%s", v1)
	}
	if bytes.Contains(v1, []byte("null,\"cpu")) {
		t.Errorf("generation-1 form has a null metric:\n%s", v1)
	}
}

// TestTranscriptFacts checks what the reference server of each generation
// answered: the facts the sinks rely on, read through DecodeResponse.
func TestTranscriptFacts(t *testing.T) {
	sentTrace := mustTraceID("6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e61")
	storedTrace := mustTraceID("6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60")
	reqID := func(last string) RequestID {
		return RequestID(mustEventID("11111111-2222-4333-8444-55555555555" + last))
	}
	notMeasured := tracing.MetricMemoryUsageBytes | tracing.MetricCPUUsagePercent | tracing.MetricQueueDepth | tracing.MetricThroughputMsgsPerSec
	invalid := ErrorResponse{Message: legacyInvalidFormat}
	ok := EventRecorded{Success: true}
	for name, steps := range readTranscripts(t) {
		t.Run(name, func(t *testing.T) {
			gen2 := strings.HasPrefix(name, "gen2-")
			byStep := make(map[string]*transcriptStep, len(steps))
			for i := range steps {
				byStep[steps[i].Step] = &steps[i]
			}
			reply := func(step string) TracingResponse {
				t.Helper()
				s, found := byStep[step]
				if !found {
					t.Fatalf("no step %q", step)
				}
				r, err := DecodeResponse([]byte(s.Reply))
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				return r
			}
			sent := func(step string) TracingRequest {
				t.Helper()
				r, err := DecodeRequest([]byte(byStep[step].Sent))
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				return r
			}

			// The probe tells the generations apart.
			probe := reply("probe generation: GetTrace zero id with request_id").(TraceData)
			if probe.Trace != nil {
				t.Errorf("probe found a trace")
			}
			if want := (RequestID{}); gen2 {
				want = reqID("5")
				if probe.RequestID != want {
					t.Errorf("probe request id = %v, want %v", probe.RequestID, want)
				}
			} else if probe.RequestID != want {
				t.Errorf("generation 1 echoed a request id: %v", probe.RequestID)
			}

			// StartTrace with a client id: kept by generation 2 only.
			st := sent("StartTrace with client trace_id (gen-2 form)").(StartTrace)
			if st.TraceID != sentTrace {
				t.Errorf("sent StartTrace id = %v", st.TraceID)
			}
			started := reply("StartTrace with client trace_id (gen-2 form)").(TraceStarted)
			if (started.TraceID == sentTrace) != gen2 {
				t.Errorf("TraceStarted id = %v, client id %v, generation 2: %v", started.TraceID, sentTrace, gen2)
			}
			if s := sent("StartTrace without trace_id (gen-1 form)").(StartTrace); !s.TraceID.IsZero() {
				t.Errorf("generation-1 StartTrace read with id %v", s.TraceID)
			}

			// Null metrics: not measured; generation 1 rejects them.
			rec := sent("RecordEvent with null metrics (gen-2 form)").(RecordEvent)
			if pm := rec.Event.Data.PerformanceMetrics; pm.Unmeasured != notMeasured || pm.ExecutionTimeNs != 1500 {
				t.Errorf("null metrics read as %+v", pm)
			}
			wantRec := TracingResponse(invalid)
			if gen2 {
				wantRec = ok
			}
			if got := reply("RecordEvent with null metrics (gen-2 form)"); !reflect.DeepEqual(got, wantRec) {
				t.Errorf("null metrics reply = %#v, want %#v", got, wantRec)
			}

			// EndTrace: a generation-2 message.
			if et := sent("EndTrace (gen 2 only)").(EndTrace); et.TraceID != sentTrace || et.Status.Kind != tracing.StatusCompleted {
				t.Errorf("sent EndTrace = %+v", et)
			}
			if got := reply("EndTrace (gen 2 only)"); !reflect.DeepEqual(got, wantRec) {
				t.Errorf("EndTrace reply = %#v, want %#v", got, wantRec)
			}

			// In flight and ended: generation 2 keeps the RecordEvents.
			inFlight := reply("GetTrace of the in-flight trace").(TraceData)
			ended := reply("GetTrace after EndTrace").(TraceData)
			if !gen2 {
				if inFlight.Trace != nil || ended.Trace != nil || !inFlight.RequestID.IsZero() {
					t.Errorf("generation 1 kept a RecordEvent trace: %+v / %+v", inFlight, ended)
				}
			} else {
				if inFlight.RequestID != reqID("6") || ended.RequestID != reqID("7") {
					t.Errorf("request ids = %v, %v", inFlight.RequestID, ended.RequestID)
				}
				if inFlight.Trace == nil || len(inFlight.Trace.Events) != 2 || inFlight.Trace.Status.Kind != tracing.StatusRunning {
					t.Fatalf("in-flight trace = %+v", inFlight.Trace)
				}
				if u := inFlight.Trace.Events[1].Data.PerformanceMetrics.Unmeasured; u != notMeasured {
					t.Errorf("stored null metrics read as unmeasured %b, want %b", u, notMeasured)
				}
				if ended.Trace == nil || ended.Trace.Status.Kind != tracing.StatusCompleted || ended.Trace.EndTime.IsZero() || len(ended.Trace.Events) != 2 {
					t.Errorf("ended trace = %+v", ended.Trace)
				}
			}

			// StoreTrace replaces the stored trace whole. The GetTrace has
			// no request_id; generation 2 answers with one of its own
			// instead of the legacy reply.
			kept := reply("GetTrace of the stored trace (which events remain?)").(TraceData)
			if kept.Trace == nil || kept.Trace.TraceID != storedTrace || len(kept.Trace.Events) != 1 ||
				kept.Trace.Events[0].EventID != mustEventID("0191f3b2-7c4e-7a10-9d2f-00000000000c") {
				t.Errorf("stored trace = %+v", kept.Trace)
			}
			if kept.RequestID.IsZero() == gen2 {
				t.Errorf("request id of a GetTrace without one = %v (generation 2: %v)", kept.RequestID, gen2)
			}

			q := reply("QueryTraces all").(QueryResults)
			if want := (RequestID{}); gen2 {
				want = reqID("8")
				if q.RequestID != want {
					t.Errorf("QueryResults request id = %v, want %v", q.RequestID, want)
				}
			} else if q.RequestID != want {
				t.Errorf("generation 1 QueryResults request id = %v", q.RequestID)
			}
			if q.TotalCount == 0 || len(q.Traces) == 0 {
				t.Errorf("QueryResults = %d traces, total %d", len(q.Traces), q.TotalCount)
			}
		})
	}
}
