package propagation_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/propagation"
)

// A trace and its cause cross an HTTP hop in the request's headers.
func ExampleTraceContext() {
	var p propagation.TraceContext
	trace, _ := tracing.ParseTraceID("0192c4a1-b2c3-7d4e-8f90-a1b2c3d4e5f6")
	cause, _ := tracing.ParseEventID("0192c4a1-b2c3-7d4e-9a0b-0c0d0e0f1011")
	ctx := tracing.ContextWithTrace(context.Background(), tracing.TraceRef{ID: trace, FlowID: "checkout"})
	ctx = tracing.ContextWithEvent(ctx, cause)

	// The sending side.
	header := http.Header{}
	p.Inject(ctx, propagation.HeaderCarrier(header))
	fmt.Println(header.Get("traceparent"))

	// The receiving side: events recorded with rctx join the trace.
	rctx := p.Extract(context.Background(), propagation.HeaderCarrier(header))
	ref, _ := tracing.CauseFromContext(rctx).Trace()
	parent := tracing.CauseFromContext(rctx).EventID()
	fmt.Println(ref.ID == trace, ref.FlowID, parent == cause)
	// Output:
	// 00-0192c4a1b2c37d4e8f90a1b2c3d4e5f6-9a0b0c0d0e0f1011-01
	// true checkout true
}
