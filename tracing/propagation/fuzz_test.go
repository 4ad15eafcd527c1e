package propagation_test

import (
	"context"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/propagation"
)

// FuzzExtract feeds arbitrary field values to the extractor: it must not
// panic, and what it accepts must inject back to a carrier that parses to
// the same trace and cause.
func FuzzExtract(f *testing.F) {
	f.Add("00-0192c4a1b2c37d4e8f90a1b2c3d4e5f6-8f90a1b2c3d4e5f6-01",
		"v=1;c=0192c4a1b2c37d4e8f90a1b2c3d4e5f6;r=0192c4a1b2c37d4e8f90a1b2c3d4e5f6;e=0192c4a1b2c37d4e8f90a1b2c3d4e5f7;f=flow")
	f.Add("00-0192c4a1b2c37d4e8f90a1b2c3d4e5f6-8f90a1b2c3d4e5f6-01",
		"v=1;c=0192c4a1b2c37d4e8f90a1b2c3d4e5f6;r=0192c4a1b2c37d4e8f90a1b2c3d4e5f5;d=0192c4a1b2c37d4e8f90a1b2c3d4e5f5.0192c4a1b2c37d4e8f90a1b2c3d4e5f4")
	f.Add("01-0192c4a1b2c37d4e8f90a1b2c3d4e5f6-8f90a1b2c3d4e5f6-00-extra", "v=1;f=%41%zz")
	f.Add("", "")
	f.Add("00-00000000000000000000000000000000-0000000000000000-00", "v=1;d=")
	var p propagation.TraceContext
	f.Fuzz(func(t *testing.T, tp, rt string) {
		carrier := propagation.MapCarrier{"traceparent": tp, "reflow-trace": rt}
		ref, cause, ok := p.Parse(carrier)
		ctx := p.Extract(context.Background(), carrier)
		if !ok {
			if ctx != context.Background() {
				t.Fatal("a rejected carrier changed the context")
			}
			return
		}
		if got, _ := tracing.CauseFromContext(ctx).Trace(); got != ref {
			t.Fatalf("Extract's trace %+v, Parse's %+v", got, ref)
		}
		out := propagation.MapCarrier{}
		p.Inject(ctx, out)
		ref2, cause2, ok := p.Parse(out)
		if !ok || ref2.ID != ref.ID || ref2.ExecutionID != ref.ExecutionID {
			t.Fatalf("re-injected trace %+v, %v; want %+v", ref2, ok, ref)
		}
		if len(ref.FlowID) > 0 && len(out.Get("reflow-trace")) <= propagation.MaxHeaderLen && ref2.FlowID != ref.FlowID {
			// A flow id that escapes longer than MaxFlowIDLen is left out.
			if len(ref2.FlowID) != 0 {
				t.Fatalf("re-injected flow %q, want %q", ref2.FlowID, ref.FlowID)
			}
		}
		if cause2.EventID() != cause.EventID() || cause2.Root() != cause.Root() || len(cause2.Chain()) != len(cause.Chain()) {
			t.Fatalf("re-injected cause %v/%v/%d, want %v/%v/%d", cause2.EventID(), cause2.Root(), len(cause2.Chain()),
				cause.EventID(), cause.Root(), len(cause.Chain()))
		}
	})
}
