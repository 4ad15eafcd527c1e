package propagation_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/propagation"
)

// TestHTTPHop sends a request from one client's trace to a server with its
// own client, over loopback: the server's events join the sender's trace,
// with the sender's event as parent, the same root cause and the chain
// continued.
func TestHTTPHop(t *testing.T) {
	ctx := testCtx(t)
	sender, sentMem := newClient(t, "frontend")
	receiver, recvMem := newClient(t, "backend")
	var p propagation.TraceContext

	received := make(chan tracing.EventID, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx := p.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		received <- receiver.MessageReceived(rctx, "backend", "in", "Request", uint64(r.ContentLength))
	}))
	defer srv.Close()

	tctx, trace, ids := chainCtx(t, sender, "frontend", 3)
	send := sender.MessageSent(tctx, "frontend", "out", "Request", 0)
	tctx = tracing.ContextWithEvent(tctx, send)
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, srv.URL, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	p.Inject(tctx, propagation.HeaderCarrier(req.Header))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	got := <-received
	if err := sender.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := receiver.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ev := find(t, recvMem, got)
	if ev.TraceID != trace {
		t.Fatalf("the receiver recorded into trace %v, want the sender's %v", ev.TraceID, trace)
	}
	cz := ev.Causality
	want := append(slices.Clone(ids), send)
	if cz.ParentEventID != send || cz.RootCauseEventID != ids[0] || !slices.Equal(cz.DependencyChain, want) {
		t.Fatalf("receiver causality %+v, want parent %v root %v chain %v", cz, send, ids[0], want)
	}
	if s := find(t, sentMem, send); s.TraceID != trace {
		t.Fatal("the sender's event left its trace")
	}
	if receiver.CurrentTrace(context.Background()).ID == trace {
		t.Fatal("the receiver's implicit trace became the sender's")
	}
}
