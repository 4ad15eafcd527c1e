package websocket

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/sink/memory"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/config"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func TestWebSocketModes(t *testing.T) {
	tests := []struct {
		name string
		mode Mode
		lz4  bool
	}{
		{name: "store text", mode: ModeStore},
		{name: "store lz4", mode: ModeStore, lz4: true},
		{name: "live text", mode: ModeLive},
		{name: "live lz4", mode: ModeLive, lz4: true},
		{name: "both lz4", mode: ModeBoth, lz4: true},
	}
	for _, gen := range generations {
		for _, tt := range tests {
			t.Run(gen.String()+"/"+tt.name, func(t *testing.T) {
				ctx := testCtx(t)
				srv := startServer(t, append(lz4Server(tt.lz4), tracetest.WithGeneration(gen))...)
				s, el := newTestSink(t, srv.URL(), WithMode(tt.mode), compressIf(tt.lz4, transport.CompressionLZ4),
					WithCompressionThreshold(256), WithFlowID("sensors"), WithEnvironment("test"),
					WithTags(map[string]string{"site": "lab"}))
				waitSink(ctx, t, s, "connection", func(st Stats) bool { return st.Connected })
				t1, t2 := tracing.NewTraceID(), tracing.NewTraceID()
				var all []tracing.TraceEvent
				jsonBytes := 0
				var enc wire.Encoder
				for i := range 4 {
					tr := t1
					if i%2 == 1 {
						tr = t2
					}
					batch := makeEvents(50, tr)
					for j := range batch {
						jsonBytes += len(enc.AppendEvent(nil, &batch[j]))
					}
					all = append(all, batch...)
					if err := s.Write(ctx, batch); err != nil {
						t.Fatalf("Write: %v", err)
					}
				}
				if err := s.Flush(ctx); err != nil {
					t.Fatalf("Flush: %v", err)
				}
				want := ids(all)
				if keeps(gen, tt.mode) {
					assertKeptOnce(t, srv, want)
					kept := map[tracing.EventID]tracing.TraceEvent{}
					for _, tr := range srv.Traces() {
						for _, ev := range tr.Events {
							kept[ev.EventID] = ev
						}
					}
					for _, ev := range all {
						got := kept[ev.EventID]
						if got.ActorID != ev.ActorID || got.Type.Kind != ev.Type.Kind || !got.Timestamp.Equal(ev.Timestamp) {
							t.Fatalf("kept event %s = %+v, want %+v", ev.EventID, got, ev)
						}
					}
					if tr := srv.GetTrace(t1); tr == nil || len(tr.Events) != 100 {
						t.Fatalf("trace 1 kept as %+v, want its 100 events", tr)
					}
				} else if n := len(srv.Kept()); n != 0 {
					t.Fatalf("generation 1 keeps %d events sent live", n)
				}
				if tt.mode == ModeStore || tt.mode == ModeBoth && gen == tracetest.Gen1 {
					// Stores carry all the events of their trace so far, and
					// the header the sink was configured with. (On
					// generation 2 in ModeBoth the trace the StartTrace opened
					// hides the stored one.)
					tr := srv.GetTrace(t1)
					if tr == nil || tr.FlowID != "sensors" || tr.Status.Kind != tracing.StatusRunning || tr.Metadata.Environment != "test" ||
						tr.Metadata.Tags["site"] != "lab" || tr.Metadata.ProcessID == 0 || tr.ExecutionID.IsZero() {
						t.Fatalf("trace header = %+v", tr)
					}
				} else if n := srv.Stats().ByKind["StoreTrace"]; !tt.mode.store() && n != 0 {
					t.Fatalf("live mode sent %d StoreTrace", n)
				}
				if tt.mode.live() {
					if m := missing(want, srv.Live()); len(m) > 0 {
						t.Fatalf("%d events not recorded live", len(m))
					}
				} else if len(srv.Live()) != 0 {
					t.Fatal("store mode sent RecordEvent")
				}
				st := s.Stats()
				if ss := s.SinkStats(); ss.Acknowledged != uint64(len(all)) || !ss.Acknowledges {
					t.Fatalf("sink stats %+v, want %d acknowledged", ss, len(all))
				}
				if st.FramesAcked != st.FramesSent || !st.Connected || st.FramesResent != 0 {
					t.Fatalf("stats %+v", st)
				}
				// Cumulative stores: the bytes sent stay under three times
				// the events' JSON (with the headers of a few stores).
				if tt.mode == ModeStore && st.RawBytes > 3*uint64(jsonBytes) {
					t.Fatalf("sent %d bytes for %d bytes of events", st.RawBytes, jsonBytes)
				}
				if tt.lz4 && tt.mode == ModeStore && st.WireBytes*2 > st.RawBytes {
					t.Fatalf("lz4 wire bytes %d not under half of raw %d", st.WireBytes, st.RawBytes)
				}
				if !tt.lz4 && st.WireBytes != st.RawBytes {
					t.Fatalf("uncompressed wire %d != raw %d", st.WireBytes, st.RawBytes)
				}
				if errs := el.all(); len(errs) > 0 {
					t.Fatalf("errors reported: %v", errs)
				}
				if err := s.Close(ctx); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if keeps(gen, tt.mode) {
					assertKeptOnce(t, srv, want)
				}
			})
		}
	}
}

func TestWebSocketSplitsAndRejectsTooLarge(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	s, el := newTestSink(t, srv.URL(), WithMaxFrameBytes(8<<10))
	tr := tracing.NewTraceID()
	batch := makeEvents(200, tr)
	big := event.NetworkEvent("blob", attr.String("payload", strings.Repeat("x", 20<<10)))
	big.TraceID = tr
	batch = append(batch[:100], append([]tracing.TraceEvent{big}, batch[100:]...)...)
	if err := s.Write(ctx, batch); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := s.Flush(ctx); !errors.Is(err, ErrDropped) || !strings.Contains(err.Error(), DropTooLarge) {
		t.Fatalf("Flush = %v, want the too-large event reported as dropped", err)
	}
	got := srv.Kept()
	if got[big.EventID] != 0 {
		t.Fatal("the oversized event was sent")
	}
	var want []tracing.EventID
	for _, ev := range batch {
		if ev.EventID != big.EventID {
			want = append(want, ev.EventID)
		}
	}
	if m := missing(want, got); len(m) > 0 {
		t.Fatalf("%d events of the split batch missing", len(m))
	}
	st := s.Stats()
	if st.Dropped[DropTooLarge] != 1 {
		t.Fatalf("dropped too large = %d, want 1", st.Dropped[DropTooLarge])
	}
	if st.FramesAcked < 4 {
		t.Fatalf("%d frames: the batch was not split", st.FramesAcked)
	}
	errs := el.all()
	if len(errs) != 1 || !errors.Is(errs[0], ErrEventTooLarge) || !strings.Contains(errs[0].Error(), big.EventID.String()) {
		t.Fatalf("reported %v, want one ErrEventTooLarge naming the event", errs)
	}
}

// TestWebSocketTooLargeNamesTheLimit checks that the error reported for
// an event too large names the limit it is over: the frame limit, or a
// quarter of the memory limit, which is smaller when the memory limit is
// under four frames.
func TestWebSocketTooLargeNamesTheLimit(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		payload int
		want    string
	}{
		{name: "frame limit", opts: []Option{WithMaxFrameBytes(8 << 10)}, payload: 20 << 10, want: "WithMaxFrameBytes(8192)"},
		{name: "memory limit", opts: []Option{WithOutageBuffer(8 << 10)}, payload: 4 << 10, want: "more than the 2048 one event may take: a quarter of the memory limit, WithOutageBuffer(8192)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t)
			s, el := newTestSink(t, srv.URL(), tt.opts...)
			big := event.NetworkEvent("blob", attr.String("payload", strings.Repeat("x", tt.payload)))
			if err := s.Write(ctx, []tracing.TraceEvent{big}); err != nil {
				t.Fatal(err)
			}
			errs := el.all()
			if len(errs) != 1 || !errors.Is(errs[0], ErrEventTooLarge) || !strings.Contains(errs[0].Error(), tt.want) {
				t.Fatalf("reported %v, want one ErrEventTooLarge saying %q", errs, tt.want)
			}
		})
	}
}

func TestWebSocketServerErrors(t *testing.T) {
	tests := []struct {
		name         string
		code         wire.ErrorCode
		message      string
		lz4          bool
		noRetries    bool
		wantRejected bool
	}{
		{name: "permanent", code: wire.CodeInvalidRequest, message: "bad trace", wantRejected: true},
		{name: "permanent compressed reply", code: wire.CodeSerializationError, message: strings.Repeat("long reason ", 200), lz4: true, wantRejected: true},
		{name: "retryable", code: wire.CodeStorageError, message: "database is locked"},
		{name: "legacy retryable", code: "", message: "storage failed"},
		{name: "retryable with NoRetries", code: wire.CodeStorageError, message: "database is locked", noRetries: true, wantRejected: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, lz4Server(tt.lz4)...)
			opts := []Option{compressIf(tt.lz4, transport.CompressionLZ4)}
			if tt.noRetries {
				cfg := tracing.DefaultConfig()
				cfg.Retry.MaxRetries = retry.NoRetries
				opts = append(OptionsFromConfig(cfg), opts...)
			}
			s, el := newTestSink(t, srv.URL(), opts...)
			srv.ErrorEvery(3, tt.code, tt.message)
			var all []tracing.TraceEvent
			for range 6 {
				b := makeEvents(20, tracing.NewTraceID())
				all = append(all, b...)
				if err := s.Write(ctx, b); err != nil {
					t.Fatal(err)
				}
				if err := s.Flush(ctx); err != nil && !(tt.wantRejected && errors.Is(err, ErrDropped)) {
					t.Fatalf("Flush: %v", err)
				}
			}
			srv.ErrorEvery(0, "", "")
			st := s.Stats()
			got := srv.Kept()
			lost := missing(ids(all), got)
			if tt.wantRejected {
				if len(lost) == 0 || uint64(len(lost)) != st.Dropped[DropRejected] || st.Rejected[string(tt.code)] != uint64(len(lost)) {
					t.Fatalf("lost %d, stats %+v", len(lost), st)
				}
				var se *wire.ServerError
				errs := el.all()
				if len(errs) == 0 || !errors.As(errs[0], &se) || se.Code != tt.code {
					t.Fatalf("reported %v, want a *tracing.ServerError with code %s", errs, tt.code)
				}
				return
			}
			if len(lost) > 0 {
				t.Fatalf("%d events lost despite a retryable error", len(lost))
			}
			// The rejected frame alone is resent, on the same connection.
			if st.FramesResent == 0 || st.Reconnects != 0 {
				t.Fatalf("want a resend without a reconnect after a retryable error: %+v", st)
			}
		})
	}
}

func TestWebSocketCloseAndClosed(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	s, _ := newTestSink(t, srv.URL())
	if err := s.Write(ctx, nil); err != nil {
		t.Fatalf("Write(nil): %v", err)
	}
	if err := s.Write(ctx, makeEvents(10, tracing.NewTraceID())); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(srv.Kept()) != 10 {
		t.Fatalf("server has %d events after Close, want 10", len(srv.Kept()))
	}
	if err := srv.WaitFor(ctx, func(v tracetest.View) bool { return v.NormalCloses() == 1 }); err != nil {
		t.Fatalf("no normal closure: %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Write(ctx, makeEvents(1, tracing.NewTraceID())); !errors.Is(err, tracing.ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
	if err := s.Flush(ctx); !errors.Is(err, tracing.ErrClosed) {
		t.Fatalf("Flush after Close = %v", err)
	}
}

// TestWebSocketCloseReportsUndelivered checks that Close counts every
// event it did not deliver once, in every mode, whether the server refused
// the sink or never acknowledged what it sent: in the live modes a
// segment's events are in many frames, and giving up one of them gives up
// them all.
func TestWebSocketCloseReportsUndelivered(t *testing.T) {
	const traces, perTrace = 5, 200
	const events = traces * perTrace
	for _, mode := range modes {
		for _, connected := range []bool{false, true} {
			for _, spool := range []bool{false, true} {
				name := fmt.Sprintf("%s/connected=%v/spool=%v", mode, connected, spool)
				t.Run(name, func(t *testing.T) {
					ctx := testCtx(t)
					srv := startServer(t)
					if !connected {
						srv.SetRefusing(true, tracetest.Refuse503)
					}
					opts := []Option{WithMode(mode)}
					if spool {
						opts = append(opts, WithSpoolDir(t.TempDir()))
					}
					s, _ := newTestSink(t, srv.URL(), opts...)
					if connected {
						waitProbed(ctx, t, s)
						srv.SetAckGate(make(chan struct{})) // nothing more is acknowledged
					}
					for range traces {
						if err := s.Write(ctx, makeEvents(perTrace, tracing.NewTraceID())); err != nil {
							t.Fatal(err)
						}
					}
					cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
					defer cancel()
					err := s.Close(cctx)
					want := fmt.Sprintf("%d events not acknowledged; %d lost", events, events)
					if spool {
						want = fmt.Sprintf("%d events not acknowledged; %d spooled in ", events, events)
					}
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Fatalf("Close = %v, want it to say %q", err, want)
					}
					var de *sink.DroppedError
					if got := errors.As(err, &de); got == spool || !spool && de.Events != events {
						t.Fatalf("Close = %v, want a DroppedError of %d events unless spooled", err, events)
					}
				})
			}
		}
	}
}

func TestWebSocketFlushContext(t *testing.T) {
	tests := []struct {
		name string
		ctx  func(context.Context) (context.Context, context.CancelFunc)
	}{
		{name: "cancelled", ctx: func(p context.Context) (context.Context, context.CancelFunc) {
			c, cancel := context.WithCancel(p)
			cancel()
			return c, cancel
		}},
		{name: "expired", ctx: func(p context.Context) (context.Context, context.CancelFunc) {
			return context.WithDeadline(p, time.Now().Add(-time.Second))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t)
			gate := make(chan struct{})
			srv.SetAckGate(gate)
			s, _ := newTestSink(t, srv.URL())
			if err := s.Write(ctx, makeEvents(5, tracing.NewTraceID())); err != nil {
				t.Fatal(err)
			}
			fctx, cancel := tt.ctx(ctx)
			defer cancel()
			if err := s.Flush(fctx); !errors.Is(err, fctx.Err()) {
				t.Fatalf("Flush = %v, want %v", err, fctx.Err())
			}
			close(gate)
			if err := s.Flush(ctx); err != nil {
				t.Fatalf("Flush after the gate opened: %v", err)
			}
		})
	}
}

func TestNewWebSocketValidates(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts []Option
		want string
	}{
		{name: "http url", url: "http://127.0.0.1:1", want: "want ws://"},
		{name: "no host", url: "ws://", want: "want ws://"},
		{name: "frame too small", url: "ws://127.0.0.1:1", opts: []Option{WithMaxFrameBytes(10)}, want: "WithMaxFrameBytes"},
		{name: "frame too large", url: "ws://127.0.0.1:1", opts: []Option{WithMaxFrameBytes(16 << 20)}, want: "WithMaxFrameBytes"},
		{name: "in flight", url: "ws://127.0.0.1:1", opts: []Option{WithMaxInFlight(0, 1)}, want: "WithMaxInFlight"},
		{name: "mode", url: "ws://127.0.0.1:1", opts: []Option{WithMode(9)}, want: "WithMode"},
		{name: "tls on ws", url: "ws://127.0.0.1:1", opts: []Option{WithTLS(transport.TLSOptions{})}, want: "wss://"},
		{name: "missing CA", url: "wss://127.0.0.1:1", opts: []Option{WithTLS(transport.TLSOptions{CAFile: "/nonexistent/ca.pem"})}, want: "CAFile"},
		{name: "key and token", url: "ws://127.0.0.1:1", opts: []Option{WithAPIKey("k1234"), WithBearerToken("t1234")}, want: "both set"},
		{name: "bad retry", url: "ws://127.0.0.1:1", opts: []Option{WithRetry(retry.Policy{BackoffMultiplier: 0.5})}, want: "WithRetry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.url, tt.opts...)
			if err == nil {
				_ = s.Close(t.Context())
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, sink.ErrInvalidOption) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrInvalidOption mentioning %q", err, tt.want)
			}
		})
	}
}

func TestWebSocketOptionsFromConfig(t *testing.T) {
	cfg := tracing.DefaultConfig()
	cfg.EnableCompression = true
	cfg.FlowID = "flow-a"
	c, err := newWSConfig(OptionsFromConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if !c.compress || c.flowID != "flow-a" || c.policy.MaxRetries != cfg.Retry.MaxRetries ||
		c.policy.InitialDelay != cfg.Retry.InitialDelay || c.policy.BackoffMultiplier != cfg.Retry.BackoffMultiplier {
		t.Fatalf("config from TracingConfig: %+v", c)
	}
	for in, want := range map[int]int{0: retry.DefaultMaxRetries, retry.NoRetries: retry.NoRetries, -1: retry.Unlimited, -9: retry.Unlimited, 3: 3} {
		cfg.Retry.MaxRetries = in
		c, err := newWSConfig(OptionsFromConfig(cfg))
		if err != nil {
			t.Fatal(err)
		}
		if c.policy.MaxRetries != want {
			t.Errorf("Retry.MaxRetries %d became policy MaxRetries %d, want %d", in, c.policy.MaxRetries, want)
		}
	}
	// EnableCompression turns compression on with CompressionAlgorithm,
	// unless that is CompressionNone.
	for _, tt := range []struct {
		enable bool
		alg    transport.CompressionAlgorithm
		want   bool
	}{
		{false, transport.CompressionZstd, false},
		{false, transport.CompressionLZ4, false},
		{true, transport.CompressionZstd, true},
		{true, transport.CompressionGzip, true},
		{true, transport.CompressionAuto, true},
		{true, transport.CompressionNone, false},
	} {
		cfg.EnableCompression, cfg.CompressionAlgorithm = tt.enable, tt.alg
		c, err := newWSConfig(OptionsFromConfig(cfg))
		if err != nil {
			t.Fatal(err)
		}
		if c.compress != tt.want || tt.want && c.alg != tt.alg {
			t.Errorf("EnableCompression %v, %v: compress %v with %v, want %v", tt.enable, tt.alg, c.compress, c.alg, tt.want)
		}
	}
}

// TestWebSocketRetriesFromEnvironment checks that max_retries means for
// the sink what RetryConfig.MaxRetries says, as the environment writes it.
func TestWebSocketRetriesFromEnvironment(t *testing.T) {
	tests := []struct {
		env     string
		n       int
		limited bool
	}{
		{"0", retry.DefaultMaxRetries, true},
		{"2", 2, true},
		{"none", 0, true},
		{"unlimited", 0, false},
		{"-1", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("REFLOW_TRACING_"+"MAX_RETRIES", tt.env)
			cfg, err := config.FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			c, err := newWSConfig(OptionsFromConfig(cfg))
			if err != nil {
				t.Fatal(err)
			}
			if n, limited := c.policy.Retries(); n != tt.n || limited != tt.limited {
				t.Fatalf("policy.Retries() = %d, %v; want %d, %v", n, limited, tt.n, tt.limited)
			}
		})
	}
}

// TestSinksSendToServer checks which sinks say they send to a Reflow
// server: what decides whether New warns about server settings.
func TestSinksSendToServer(t *testing.T) {
	ws, err := New("ws://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ws.Close(ctx)
	})
	m, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	var mem tracing.Sink = m
	_, memServes := mem.(tracing.ServerSink)
	if !ws.SendsToServer() || memServes {
		t.Fatalf("SendsToServer: WebSocket %v; Memory implements ServerSink: %v", ws.SendsToServer(), memServes)
	}
}

func TestWebSocketObserveTrace(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	s, _ := newTestSink(t, srv.URL())
	tr := tracing.FlowTrace{
		TraceID: tracing.NewTraceID(), FlowID: "orders", ExecutionID: tracing.NewExecutionID(),
		Version: tracing.FlowVersion{Major: 1, Minor: 2, Patch: 3}, StartTime: time.Now().UTC(),
		Status: tracing.ExecutionStatus{Kind: tracing.StatusRunning}, Metadata: tracing.TraceMetadata{Environment: "prod", Hostname: "h"},
	}
	s.ObserveTrace(tr)
	if err := s.Write(ctx, makeEvents(5, tr.TraceID)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := srv.GetTrace(tr.TraceID)
	if got == nil || got.FlowID != "orders" || got.ExecutionID != tr.ExecutionID || got.Version.Minor != 2 || got.Metadata.Environment != "prod" {
		t.Fatalf("stored header %+v", got)
	}
	tr.Status = tracing.FailedStatus("boom")
	tr.EndTime = time.Now().UTC()
	s.ObserveTrace(tr)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got = srv.GetTrace(tr.TraceID)
	if got.Status.Kind != tracing.StatusFailed || got.Status.Error != "boom" || len(got.Events) != 5 {
		t.Fatalf("after the trace ended: status %v, %d events", got.Status, len(got.Events))
	}
}

func TestWebSocketConcurrentSafe(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	s, _ := newTestSink(t, srv.URL(), WithMaxInFlight(2, 1<<20))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			if err := s.Write(ctx, makeEvents(10, tracing.NewTraceID())); err != nil {
				if !errors.Is(err, tracing.ErrClosed) {
					t.Errorf("Write: %v", err)
				}
				return
			}
			if i == 20 {
				close(done)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			if err := s.Flush(ctx); errors.Is(err, tracing.ErrClosed) {
				return
			}
			_ = s.Stats()
			s.ObserveTrace(tracing.FlowTrace{TraceID: tracing.NewTraceID(), Status: tracing.ExecutionStatus{Kind: tracing.StatusCompleted}})
		}
	}()
	go func() {
		defer wg.Done()
		<-done
		_ = s.Close(ctx)
	}()
	wg.Wait()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestWebSocketHandleReply(t *testing.T) {
	s, err := New("ws://127.0.0.1:1", WithRetryOptions(retry.WithTimer(&instantTimer{})))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_ = s.Close(ctx)
	}()
	var enc wire.Encoder
	ev := event.ActorStarted("a")
	tests := []struct {
		name    string
		resp    wire.TracingResponse
		isReply bool
	}{
		{name: "notification is skipped", resp: wire.EventNotification{TraceID: tracing.NewTraceID(), Event: ev}},
		{name: "trace stored acks", resp: wire.TraceStored{TraceID: tracing.NewTraceID()}, isReply: true},
		{name: "event recorded acks", resp: wire.EventRecorded{Success: true}, isReply: true},
		{name: "error rejects", resp: wire.ErrorResponse{Message: "no", Code: wire.CodeInvalidRequest}, isReply: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// With no connection, a reply that would pop a frame reports
			// the stale connection; a skipped push reports nothing.
			err := s.handleReply(&wsConn{}, enc.AppendResponse(nil, tt.resp))
			if (err != nil) != tt.isReply {
				t.Fatalf("handleReply = %v, want a reply: %v", err, tt.isReply)
			}
		})
	}
}
