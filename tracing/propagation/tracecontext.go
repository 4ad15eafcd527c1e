package propagation

import (
	"context"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// The fields TraceContext writes.
const (
	// TraceparentField is W3C Trace Context's field.
	TraceparentField = "traceparent"
	// ReflowField is this SDK's field, with what traceparent cannot carry.
	ReflowField = "reflow-trace"
	// TracestateField is W3C Trace Context's field of other vendors'
	// state, which Extract keeps and Inject forwards with the same trace.
	TracestateField = "tracestate"
)

// maxTracestateLen is the longest tracestate forwarded (what W3C Trace
// Context asks every participant to pass on at least): a longer one loses
// list members, those over 128 bytes first, then from the end.
const maxTracestateLen = 512

// maxTracestateMembers is the most list members a tracestate may have.
const maxTracestateMembers = 32

// maxTracestateInput is the longest tracestate read: 32 members of the
// longest key (256 bytes) and value (256 bytes), with their separators
// and some blanks around them; a longer one is malformed.
const maxTracestateInput = maxTracestateMembers*(256+1+256+1) + 1024

// MaxHeaderLen is the longest reflow-trace value written or read; a longer
// one is ignored on extraction.
const MaxHeaderLen = 1024

// MaxFlowIDLen is the longest query-escaped flow id written into
// reflow-trace; a longer one is left out.
const MaxFlowIDLen = 256

// TraceContext injects the trace and cause a context carries into a
// TextMapCarrier and extracts them on the other side (see the package
// documentation for the format); the OTLP sink's otlp.Propagator makes it
// an OpenTelemetry TextMapPropagator. The zero value is ready to use.
type TraceContext struct {
	// Client, if not nil, lets Inject send the client's implicit trace
	// for a ctx that carries no trace (see TracingClient.CurrentTrace),
	// and lets Extract join the trace at once through
	// TracingClient.JoinTrace. Without it Extract puts the trace in the
	// ctx (tracing.ContextWithTrace), and the client that records the
	// first event with it joins the trace then: either way this process's
	// events of the trace are kept apart from the other process's on a
	// server that replaces a stored trace whole. Default: nil: a ctx
	// without a trace injects nothing.
	Client *tracing.TracingClient
}

// Fields returns the fields Inject sets: traceparent, reflow-trace and
// tracestate.
func (TraceContext) Fields() []string {
	return []string{TraceparentField, ReflowField, TracestateField}
}

// Inject writes the trace ctx carries and its cause (see
// tracing.CauseFromContext) into carrier: traceparent's parent id is the
// cause's tracing.EventID.SpanID or, for a ctx with a trace and no cause,
// the trace's tracing.TraceID.RootSpanID. The tracestate Extract found
// with the same trace is forwarded, as W3C Trace Context asks. A ctx with
// no trace (and no Client, or a disabled one) writes nothing; a nil ctx
// stands for context.Background(). It never fails.
func (p TraceContext) Inject(ctx context.Context, carrier TextMapCarrier) {
	if carrier == nil {
		return
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ref, ok := tracing.CauseFromContext(ctx).Trace()
	if !ok && p.Client != nil {
		ref = p.Client.CurrentTrace(ctx)
		ok = !ref.IsZero()
	}
	if !ok {
		return
	}
	cause := tracing.CauseFromContext(ctx)
	// The parent id names the span the OTLP sink exports for the cause or,
	// without a cause, the trace's root span: an OpenTelemetry service in
	// between becomes its child.
	parent := ref.ID.RootSpanID()
	if ev := cause.EventID(); !ev.IsZero() {
		parent = ev.SpanID()
	}
	carrier.Set(TraceparentField, formatTraceparent(ref.ID, parent))
	carrier.Set(ReflowField, formatReflow(ref, cause))
	if ts, ok := ctx.Value(tracestateKey{}).(tracestate); ok && ts.trace == ref.ID && ts.value != "" {
		carrier.Set(TracestateField, ts.value)
	}
}

// tracestateKey is the context key of the tracestate Extract found.
type tracestateKey struct{}

// tracestate is an incoming tracestate value and the trace it came with:
// it is forwarded only with that trace.
type tracestate struct {
	trace tracing.TraceID
	value string
}

// cleanTracestate returns the list members of a tracestate value that
// look like key=value (printable ASCII, at most maxTracestateMembers of
// them), joined again, within maxTracestateLen; "" when none is left.
func cleanTracestate(v string) string {
	if v == "" || len(v) > maxTracestateInput {
		return ""
	}
	var members []string
	for m := range strings.SplitSeq(v, ",") {
		m = strings.Trim(m, " \t")
		if m == "" {
			continue
		}
		eq := strings.IndexByte(m, '=')
		if eq <= 0 || eq == len(m)-1 || !printable(m) || len(members) == maxTracestateMembers {
			return "" // malformed: not forwarded
		}
		members = append(members, m)
	}
	size := func() int {
		n := max(len(members)-1, 0)
		for _, m := range members {
			n += len(m)
		}
		return n
	}
	for len(members) > 0 && size() > maxTracestateLen {
		i := slices.IndexFunc(members, func(m string) bool { return len(m) > 128 })
		if i < 0 {
			i = len(members) - 1
		}
		members = slices.Delete(members, i, i+1)
	}
	return strings.Join(members, ",")
}

// tracestateOf returns carrier's tracestate: the values of all its
// tracestate headers joined, as W3C Trace Context asks, when the carrier
// can list them (HeaderCarrier, OpenTelemetry's HeaderCarrier).
func tracestateOf(carrier TextMapCarrier) string {
	if vc, ok := carrier.(interface{ Values(key string) []string }); ok {
		return strings.Join(vc.Values(TracestateField), ",")
	}
	return carrier.Get(TracestateField)
}

// printable reports whether s is printable ASCII.
func printable(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func formatTraceparent(id tracing.TraceID, parent [8]byte) string {
	b := make([]byte, 0, 55)
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, id[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, parent[:])
	b = append(b, "-01"...)
	return string(b)
}

func formatReflow(ref tracing.TraceRef, cause tracing.Cause) string {
	b := make([]byte, 0, 128)
	b = append(b, "v=1"...)
	if ev := cause.EventID(); !ev.IsZero() {
		b = append(b, ";c="...)
		b = hex.AppendEncode(b, ev[:])
		root := cause.Root()
		b = append(b, ";r="...)
		b = hex.AppendEncode(b, root[:])
		if chain := cause.Chain(); len(chain) > 1 {
			anc := chain[:len(chain)-1]
			anc = anc[max(0, len(anc)-(tracing.MaxDependencyChain-1)):]
			b = append(b, ";d="...)
			for i, id := range anc {
				if i > 0 {
					b = append(b, '.')
				}
				b = hex.AppendEncode(b, id[:])
			}
		}
	}
	if !ref.ExecutionID.IsZero() {
		b = append(b, ";e="...)
		b = hex.AppendEncode(b, ref.ExecutionID[:])
	}
	if ref.FlowID != "" {
		if f := url.QueryEscape(string(ref.FlowID)); len(f) <= MaxFlowIDLen {
			b = append(b, ";f="...)
			b = append(b, f...)
		}
	}
	return string(b)
}

// Extract returns a copy of ctx that carries the trace and cause found in
// carrier (see Parse), for the events recorded with it to join the
// sender's trace, and carrier's tracestate, for Inject to forward with
// that trace (a malformed tracestate is not forwarded; several tracestate
// headers, when the carrier has a Values method as HeaderCarrier does,
// are one list). When carrier holds no valid traceparent it returns ctx
// unchanged; a nil ctx stands for context.Background(). It never fails
// and never panics on malformed input.
func (p TraceContext) Extract(ctx context.Context, carrier TextMapCarrier) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	ref, cause, ok := p.Parse(carrier)
	if !ok {
		return ctx
	}
	// A carrier without one hides the tracestate an earlier Extract put
	// in ctx.
	if ts := cleanTracestate(tracestateOf(carrier)); ts != "" || ctx.Value(tracestateKey{}) != nil {
		ctx = context.WithValue(ctx, tracestateKey{}, tracestate{trace: ref.ID, value: ts})
	}
	if p.Client != nil {
		// The sinks learn that this process only joins the trace, so its
		// stores do not replace what the other process stored.
		return tracing.ContextWithCause(p.Client.JoinTrace(ctx, ref), cause)
	}
	return tracing.ContextWithCause(tracing.ContextWithTrace(ctx, ref), cause)
}

// Parse reads carrier's fields: the trace (its id from traceparent, its
// flow and execution ids from reflow-trace) and the cause (from
// reflow-trace, when its tracing.EventID.SpanID is traceparent's parent
// id; the zero Cause otherwise). ok is false when there is no valid
// traceparent; a malformed reflow-trace only loses what it would add.
func (TraceContext) Parse(carrier TextMapCarrier) (ref tracing.TraceRef, cause tracing.Cause, ok bool) {
	if carrier == nil {
		return ref, cause, false
	}
	id, parent, ok := parseTraceparent(carrier.Get(TraceparentField))
	if !ok {
		return ref, cause, false
	}
	ref.ID = id
	r, ok := parseReflow(carrier.Get(ReflowField))
	if !ok {
		return ref, cause, true
	}
	ref.FlowID, ref.ExecutionID = r.flow, r.exec
	if !r.cause.IsZero() && r.cause.SpanID() == parent {
		cause = tracing.NewCause(r.cause, r.root, r.chain)
	}
	return ref, cause, true
}

// parseTraceparent reads a W3C traceparent: version 00 exactly, or a later
// version (not ff) with possibly more fields after the fourth. Hex digits
// must be lower case; all-zero trace and parent ids are invalid.
func parseTraceparent(s string) (id tracing.TraceID, parent [8]byte, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return id, parent, false
	}
	var ver [1]byte
	if !lowerHex(ver[:], s[0:2]) || ver[0] == 0xff {
		return id, parent, false
	}
	if ver[0] == 0 && len(s) != 55 {
		return id, parent, false
	}
	if len(s) > 55 && s[55] != '-' {
		return id, parent, false
	}
	var flags [1]byte
	if !lowerHex(id[:], s[3:35]) || !lowerHex(parent[:], s[36:52]) || !lowerHex(flags[:], s[53:55]) {
		return id, parent, false
	}
	if id.IsZero() || parent == [8]byte{} {
		return id, parent, false
	}
	return id, parent, true
}

// lowerHex decodes s, lower-case hex of exactly len(dst) bytes, into dst.
func lowerHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}

type reflowFields struct {
	cause, root tracing.EventID
	chain       []tracing.EventID
	exec        tracing.ExecutionID
	flow        tracing.FlowID
}

// parseReflow reads a reflow-trace value; ok is false if it is absent,
// too long, of an unknown version or malformed anywhere. Unknown keys are
// skipped, so later versions may add some.
func parseReflow(s string) (r reflowFields, ok bool) {
	if s == "" || len(s) > MaxHeaderLen {
		return r, false
	}
	first := true
	for field := range strings.SplitSeq(s, ";") {
		k, v, found := strings.Cut(field, "=")
		if !found {
			return r, false
		}
		if first {
			if k != "v" || v != "1" {
				return r, false
			}
			first = false
			continue
		}
		switch k {
		case "c":
			if !lowerHex(r.cause[:], v) || r.cause.IsZero() {
				return r, false
			}
		case "r":
			if !lowerHex(r.root[:], v) {
				return r, false
			}
		case "e":
			if !lowerHex(r.exec[:], v) {
				return r, false
			}
		case "d":
			if len(v) > (tracing.MaxDependencyChain-1)*33 {
				return r, false
			}
			for part := range strings.SplitSeq(v, ".") {
				var id tracing.EventID
				if !lowerHex(id[:], part) || id.IsZero() {
					return r, false
				}
				r.chain = append(r.chain, id)
			}
		case "f":
			if len(v) > MaxFlowIDLen {
				return r, false
			}
			f, err := url.QueryUnescape(v)
			if err != nil {
				return r, false
			}
			r.flow = tracing.FlowID(f)
		}
	}
	if r.cause.IsZero() && (!r.root.IsZero() || r.chain != nil) {
		return r, false // a root or chain without the event they belong to
	}
	return r, !first
}
