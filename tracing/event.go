package tracing

import (
	"fmt"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// EventKind is the kind of a TraceEventType: the ten unit kinds of the Reflow
// protocol, DataFlow, and Custom.
//
// The kinds, their values and their names (String; the protocol's
// event_type tag, except that Custom is written as a NetworkEvent with an
// event_subtype attribute; 0 is invalid):
//
//	KindActorCreated       1  ActorCreated
//	KindActorStarted       2  ActorStarted
//	KindActorCompleted     3  ActorCompleted
//	KindActorFailed        4  ActorFailed
//	KindMessageSent        5  MessageSent
//	KindMessageReceived    6  MessageReceived
//	KindStateChanged       7  StateChanged
//	KindPortConnected      8  PortConnected
//	KindPortDisconnected   9  PortDisconnected
//	KindDataFlow          10  DataFlow
//	KindNetworkEvent      11  NetworkEvent
//	KindCustom            12  Custom
type EventKind uint8

// The event kinds. The zero value is invalid; the encoder writes an event
// with an invalid kind as a NetworkEvent and counts it.
const (
	KindActorCreated EventKind = iota + 1
	KindActorStarted
	KindActorCompleted
	KindActorFailed
	KindMessageSent
	KindMessageReceived
	KindStateChanged
	KindPortConnected
	KindPortDisconnected
	KindDataFlow
	KindNetworkEvent
	// KindCustom is a user-named event. The reference server has no Custom
	// variant, so by default it is written as "NetworkEvent" with the custom
	// attribute "event_subtype" set to its name.
	KindCustom

	numKinds = int(KindCustom) + 1
)

var kindNames = [numKinds]string{
	"", "ActorCreated", "ActorStarted", "ActorCompleted", "ActorFailed",
	"MessageSent", "MessageReceived", "StateChanged", "PortConnected",
	"PortDisconnected", "DataFlow", "NetworkEvent", "Custom",
}

// String returns the protocol name of k ("ActorCreated", "DataFlow", …).
func (k EventKind) String() string {
	if int(k) < numKinds && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Valid reports whether k is one of the defined kinds.
func (k EventKind) Valid() bool { return k >= KindActorCreated && k <= KindCustom }

// Critical reports whether events of kind k are kept ahead of routine ones by
// default: actor lifecycle and failures.
func (k EventKind) Critical() bool {
	switch k {
	case KindActorCreated, KindActorStarted, KindActorCompleted, KindActorFailed:
		return true
	}
	return false
}

// MarshalText returns k's protocol name (see String).
func (k EventKind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("%w: unknown event kind %d", ErrMalformed, uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText reads a kind's protocol name ("ActorCreated", "DataFlow",
// ...; case-sensitive, as the protocol is); any other name gives an error
// wrapping ErrMalformed. It lets an EventKind be a flag (flag.TextVar).
func (k *EventKind) UnmarshalText(b []byte) error {
	v, err := parseEventKind(string(b))
	if err == nil {
		*k = v
	}
	return err
}

// parseEventKind returns the kind whose protocol name is s.
func parseEventKind(s string) (EventKind, error) {
	for k := KindActorCreated; k <= KindCustom; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown event kind %q", ErrMalformed, s)
}

// TraceEventType is Reflow's TraceEventType enum: a kind, plus the receiving
// side for DataFlow and the name for Custom.
type TraceEventType struct {
	Kind EventKind
	// ToActor and ToPort are the receiving side of a DataFlow event.
	ToActor string
	ToPort  string
	// Name names a Custom event.
	Name string
}

// String returns the kind's protocol name, with the DataFlow target or the
// custom name in parentheses.
func (t TraceEventType) String() string {
	switch t.Kind {
	case KindDataFlow:
		return "DataFlow(" + t.ToActor + ":" + t.ToPort + ")"
	case KindCustom:
		return "Custom(" + t.Name + ")"
	}
	return t.Kind.String()
}

// TraceEvent is one observation of an actor network: Reflow's TraceEvent.
//
// It is a value type; copying it copies everything but the byte slices, the
// dependency chain and attributes beyond the inline ones, which are shared.
type TraceEvent struct {
	// EventID identifies the event. The client fills a zero EventID with a
	// new UUIDv7.
	EventID EventID
	// TraceID is the trace the event belongs to. It is not part of the
	// protocol's TraceEvent; sinks use it to address RecordEvent and group
	// StoreTrace batches. The client fills a zero TraceID with its current
	// trace.
	TraceID TraceID
	// Timestamp is when the event happened; written in UTC, RFC 3339 with
	// nanoseconds. The client fills a zero Timestamp with the current time.
	Timestamp time.Time
	Type      TraceEventType
	ActorID   string
	Data      TraceEventData
	Causality CausalityInfo
}

// TraceEventData is the payload of a TraceEvent.
type TraceEventData struct {
	// Port is the actor's port; "" is written as null.
	Port string
	// Message is written only when HasMessage is true; otherwise null.
	Message    MessageSnapshot
	HasMessage bool
	// StateDiff is written only when StateDiff.DiffType is set; otherwise
	// null.
	StateDiff StateDiff
	// Error is the failure message; "" is written as null.
	Error              string
	PerformanceMetrics PerformanceMetrics
	// CustomAttributes hold any JSON values by key.
	CustomAttributes attr.Set
}

// MessageSnapshot describes a message that passed through a port.
//
// ContentCodec, ContentFormatVersion and StoredBytes are the fields a
// generation-2 server adds; each is written only when set, and reads as
// its zero value when absent. A generation-1 server neither keeps nor
// pushes them: its readers get SerializedData with no codec, so content
// encoded with one (ContentCodec other than "none") is unreadable there.
type MessageSnapshot struct {
	MessageType string
	SizeBytes   uint64
	// Checksum is "" when not computed, or as Reflow defines it, "sha256:"
	// and 64 lower-case hex digits (see ContentChecksum).
	Checksum string
	// SerializedData is the message content, written as an array of
	// integers. The client drops it unless content capture is enabled.
	// The generation-1 form always writes it ([] when nil); the
	// generation-2 form leaves a nil SerializedData out. The decoder reads
	// an absent serialized_data as nil and [] as a non-nil empty slice.
	SerializedData []byte
	// ContentCodec names how SerializedData is encoded; "" is not written,
	// which a generation-2 server reads as its default, "none".
	ContentCodec string
	// StoredBytes is how many bytes of the content the producer kept; it
	// is written (as a number) only when HasStoredBytes is set, and null
	// or absent reads as HasStoredBytes false.
	StoredBytes uint64
	// ContentFormatVersion versions the content's format; 0 is not
	// written, which leaves the server's default.
	ContentFormatVersion uint32
	HasStoredBytes       bool
}

// StateDiffType is how a StateDiff's bytes relate to the state.
//
// The types, their values and names (String, the protocol's diff_type; 0
// is no diff):
//
//	DiffFull          1  Full
//	DiffIncremental   2  Incremental
//	DiffMemoryOnly    3  MemoryOnly
type StateDiffType uint8

// The state diff types. The zero value means "no state diff".
const (
	DiffFull StateDiffType = iota + 1
	DiffIncremental
	DiffMemoryOnly
)

// String returns the protocol name of t.
func (t StateDiffType) String() string {
	switch t {
	case DiffFull:
		return "Full"
	case DiffIncremental:
		return "Incremental"
	case DiffMemoryOnly:
		return "MemoryOnly"
	}
	return fmt.Sprintf("StateDiffType(%d)", uint8(t))
}

// StateDiff is an actor's state before and after a change.
type StateDiff struct {
	// Before is written as null when nil.
	Before []byte
	After  []byte
	// DiffType is required for the diff to be written at all.
	DiffType StateDiffType
}

// PerformanceMetrics are the measurements attached to every event.
// Non-finite floats are written as 0, and CPUUsagePercent is clamped to the
// 32-bit float range the server reads it into.
//
// Unmeasured tells "not measured" apart from "measured zero", field by
// field; its zero value says every field was measured, so a literal that
// leaves it out means what it always did. A generation-2 server reads a
// field that was not measured as null; a generation-1 server requires all
// five numbers, so the encoder's generation-1 form (its default, see
// Encoder.Protocol) writes an unmeasured field as 0 and its generation-2
// form as null. The decoder reads a
// null or absent field as not measured, with value 0.
type PerformanceMetrics struct {
	ExecutionTimeNs      uint64
	MemoryUsageBytes     uint64
	CPUUsagePercent      float64
	QueueDepth           uint64
	ThroughputMsgsPerSec float64
	// Unmeasured is the set of fields that were not measured; their values
	// are then ignored. Bits outside AllMetricFields are ignored.
	Unmeasured MetricFields
}

// Measured reports whether every field in f was measured.
func (p *PerformanceMetrics) Measured(f MetricFields) bool { return p.Unmeasured&f == 0 }

// MetricFields is a set of the fields of PerformanceMetrics, one bit each.
type MetricFields uint8

// The fields of PerformanceMetrics, as MetricFields bits.
const (
	MetricExecutionTimeNs MetricFields = 1 << iota
	MetricMemoryUsageBytes
	MetricCPUUsagePercent
	MetricQueueDepth
	MetricThroughputMsgsPerSec

	// AllMetricFields is the set of all five fields.
	AllMetricFields = MetricExecutionTimeNs | MetricMemoryUsageBytes | MetricCPUUsagePercent |
		MetricQueueDepth | MetricThroughputMsgsPerSec
)

// CausalityInfo links an event to the events that caused it.
type CausalityInfo struct {
	// ParentEventID is the direct cause; zero is written as null.
	ParentEventID EventID
	// RootCauseEventID is the first event of the causal chain; zero is
	// written as the event's own id.
	RootCauseEventID EventID
	// DependencyChain lists the ancestors, oldest first.
	DependencyChain []EventID
	// SpanID correlates with distributed tracing; "" is written as the 16 hex
	// digits of the last 8 bytes of the event id.
	SpanID string
}
