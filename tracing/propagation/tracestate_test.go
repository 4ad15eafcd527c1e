package propagation_test

import (
	"context"
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
