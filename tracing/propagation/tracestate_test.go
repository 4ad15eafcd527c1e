package propagation_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/propagation"
)

const incomingTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// W3C Trace Context (tracestate): a participant that receives tracestate
// must send it on with its outgoing requests, so that other vendors'
// state survives a hop through a process traced with this SDK.
func TestTracestateForwarded(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		name, in, want string
	}{
		{"forwarded as received", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
		{"blank members and spaces dropped", " congo=t61rcWkgMzE , ,rojo=00f067aa0ba902b7\t", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
		{"malformed member: none forwarded", "congo=t61rcWkgMzE,rojo", ""},
		{"control character: none forwarded", "congo=t61\x01rcWkgMzE", ""},
		{"too many members: none forwarded", strings.Repeat("a=1,", 33) + "a=1", ""},
		// 568 bytes; without its first member over 128 bytes, 363.
		{"over 512 bytes: long members go first", "a=1," + "big=" + long + ",b=2," + "c=" + long + ",d=" + long[:150],
			"a=1,b=2,c=" + long + ",d=" + long[:150]},
		// Members of 128 bytes: 519 bytes, then 515, then 386.
		{"over 512 bytes: then from the end", "a=" + long[:126] + ",b=" + long[:126] + ",c=" + long[:126] + ",d=" + long[:126] + ",e=1",
			"a=" + long[:126] + ",b=" + long[:126] + ",c=" + long[:126]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p propagation.TraceContext
			ctx := p.Extract(context.Background(), propagation.MapCarrier{"traceparent": incomingTraceparent, "tracestate": tt.in})
			out := propagation.MapCarrier{}
			p.Inject(ctx, out)
			if out.Get("traceparent") == "" {
				t.Fatal("the extracted trace was not injected")
			}
			got, ok := out["tracestate"]
			if tt.want == "" {
				if ok {
					t.Fatalf("tracestate %q forwarded, want none", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("tracestate %q, want %q", got, tt.want)
			}
			if len(got) > 512 {
				t.Fatalf("tracestate of %d bytes, want at most 512", len(got))
			}
		})
	}
}

// A tracestate belongs to the trace it came with: a ctx that has moved on
// to another trace does not forward it, and one without a valid
// traceparent keeps none.
func TestTracestateStaysWithItsTrace(t *testing.T) {
	var p propagation.TraceContext
	ctx := p.Extract(context.Background(), propagation.MapCarrier{"traceparent": incomingTraceparent, "tracestate": "congo=t61rcWkgMzE"})
	other := tracing.ContextWithTrace(ctx, tracing.TraceRef{ID: tracing.NewTraceID()})
	out := propagation.MapCarrier{}
	p.Inject(other, out)
	if v, ok := out["tracestate"]; ok {
		t.Fatalf("tracestate %q forwarded with another trace", v)
	}
	ctx = p.Extract(context.Background(), propagation.MapCarrier{"traceparent": "garbage", "tracestate": "congo=t61rcWkgMzE"})
	if ctx != context.Background() {
		t.Fatal("Extract changed the ctx without a valid traceparent")
	}
}

// A valid tracestate over 4096 bytes (W3C allows 32 members of up to
// 256+1+256 bytes) is truncated as the docs say (long members first, then
// from the end), not dropped whole.
func TestTracestateLongValidIsTruncated(t *testing.T) {
	var members []string
	members = append(members, "congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7")
	for i := range 20 {
		members = append(members, fmt.Sprintf("k%02d=%s", i, strings.Repeat("v", 250)))
	}
	in := strings.Join(members, ",") // 22 members, ~5.1 KB
	if len(in) <= 4096 {
		t.Fatalf("input of %d bytes", len(in))
	}
	var p propagation.TraceContext
	ctx := p.Extract(context.Background(), propagation.MapCarrier{"traceparent": incomingTraceparent, "tracestate": in})
	out := propagation.MapCarrier{}
	p.Inject(ctx, out)
	// Long members go first, as many as it takes.
	if got, want := out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,"+members[len(members)-1]; got != want {
		t.Fatalf("tracestate of a valid %d-byte input forwarded as %q, want %q", len(in), got, want)
	}
}

// W3C Trace Context: multiple tracestate headers are one list (RFC 7230
// combining); forwarding only the first loses other vendors' state.
func TestTracestateMultipleHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("traceparent", incomingTraceparent)
	h.Add("tracestate", "congo=t61rcWkgMzE")
	h.Add("tracestate", "rojo=00f067aa0ba902b7")
	var p propagation.TraceContext
	ctx := p.Extract(context.Background(), propagation.HeaderCarrier(h))
	out := propagation.MapCarrier{}
	p.Inject(ctx, out)
	if got, want := out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"; got != want {
		t.Fatalf("tracestate forwarded %q, want %q", got, want)
	}
}

// A nil ctx stands for context.Background() in Extract and Inject.
func TestNilContext(t *testing.T) {
	c, _ := newClient(t, "f")
	var nilCtx context.Context
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"Extract with tracestate", func() {
			_ = propagation.TraceContext{}.Extract(nilCtx, propagation.MapCarrier{"traceparent": incomingTraceparent, "tracestate": "a=1"})
		}},
		{"Inject with a Client", func() {
			propagation.TraceContext{Client: c}.Inject(nilCtx, propagation.MapCarrier{})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("panicked: %v", p)
				}
			}()
			tt.f()
		})
	}
}

// The tracestate forwarded is the last Extract's: one without a
// tracestate leaves none to forward, though ctx came from an Extract
// that had one.
func TestTracestateOfTheLastExtract(t *testing.T) {
	var p propagation.TraceContext
	ctx := p.Extract(context.Background(), propagation.MapCarrier{"traceparent": incomingTraceparent, "tracestate": "congo=t61rcWkgMzE"})
	ctx = p.Extract(ctx, propagation.MapCarrier{"traceparent": incomingTraceparent})
	out := propagation.MapCarrier{}
	p.Inject(ctx, out)
	if ts, ok := out["tracestate"]; ok {
		t.Fatalf("tracestate %q forwarded, want none: the last Extract had none", ts)
	}
}
