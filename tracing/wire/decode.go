package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire/internal/strictjson"
)

// DecodeRequest reads a request like the reference server does: as a
// TracingRequest, then as a legacy TraceMessage (StoreTrace, GetMetrics).
// It reads what a generation-2 server reads, which is everything a
// generation-1 server reads and more; a server that emulates generation 1
// tells the additions apart in the result: EndTrace (which generation 1
// rejects), a StartTrace.TraceID, GetTrace/QueryTraces.RequestID (which it
// ignores), a non-zero PerformanceMetrics.Unmeasured (a null or absent
// metric) and a nil MessageSnapshot.SerializedData (absent), both of which
// it rejects. A request_id that is null or not a UUID reads as zero, as the
// generation-2 server then takes the legacy path; StartTrace's trace_id,
// when present, must be a UUID.
// It is as strict as the server: required fields must be present, integers
// must be non-negative integers in range, bytes 0..255, floats finite
// numbers, enum tags exact, strings valid UTF-8; optional fields may be null
// or absent and unknown fields are ignored. A duplicate field is an error.
// The legacy Subscribe shape, {"Subscribe":{"filter":…}}, is read as a
// Subscribe with Legacy set. Anything else returns an error wrapping
// ErrMalformed that names the path of the offending value. It never
// panics. The result is the value form of the message type (e.g.
// RecordEvent).
//
// Decoded events differ from the ones encoded in three ways: a Custom event
// written in the default form reads back as a KindNetworkEvent with its
// "event_subtype" attribute (it is not turned back into KindCustom); span and
// root cause ids the encoder filled in are explicit; empty optional strings
// and zero optional times read back as "" / the zero time.
//
// Where it departs from the reference server: it also accepts the
// {"Custom":"name"} event type (as KindCustom), which the reference server
// rejects, so a server built on it that must behave like the reference one
// rejects KindCustom events itself; and it is stricter in two corners the
// SDK never writes: ids must be hyphenated UUIDs (not the simple, braced or
// URN forms) and structs must be JSON objects (not serde's array form).
func DecodeRequest(data []byte) (TracingRequest, error) {
	return decodeTop(data, (*decoder).request)
}

// DecodeResponse reads a server message (a reply or a pushed notification)
// from JSON text, of either server generation. It accepts both shapes of
// Error (a missing or unknown code gives Code "") and of TraceData (a null
// trace gives a nil Trace); a request_id that is absent or null gives a
// zero RequestID. It is as strict as DecodeRequest.
func DecodeResponse(data []byte) (TracingResponse, error) {
	return decodeTop(data, (*decoder).response)
}

// decoder reads the protocol's messages with the primitives of
// strictjson.Decoder; its errors wrap tracing.ErrMalformed.
type decoder struct {
	strictjson.Decoder
}

// decodeTop reads data as one JSON text holding the message read; on error
// it returns the zero M (a nil interface) with the error.
func decodeTop[M any](data []byte, read func(*decoder) (M, error)) (M, error) {
	var d decoder
	d.Init(data, tracing.ErrMalformed)
	var msg M
	err := d.Top(func() error {
		var err error
		msg, err = read(&d)
		return err
	})
	if err != nil {
		var zero M
		return zero, err
	}
	return msg, nil
}

func (d *decoder) request() (TracingRequest, error) {
	var req TracingRequest
	err := d.Variant("a request",
		func(tag []byte) (bool, error) {
			switch string(tag) {
			case "Ping":
				req = Ping{}
			case "Unsubscribe":
				req = Unsubscribe{}
			case "GetMetrics":
				req = GetMetrics{}
			case "StartTrace", "RecordEvent", "EndTrace", "GetTrace", "QueryTraces", "GetFlowVersions", "Subscribe", "StoreTrace":
				return false, nil
			default:
				return false, d.UnknownVariant("request", tag)
			}
			return true, nil
		},
		func(tag []byte) error {
			name := string(tag)
			d.Push(name)
			defer d.Pop()
			switch name {
			case "StartTrace":
				// trace_id is the generation-2 form: optional, but when
				// present it must be a UUID (null is rejected, as by the
				// server).
				var r StartTrace
				err := d.Struct("a StartTrace object", []string{"trace_id", "flow_id", "version"}, 0b110, func(i int) error {
					switch i {
					case 0:
						u, err := d.UUID()
						r.TraceID = u
						return err
					case 1:
						s, err := d.Str()
						r.FlowID = tracing.FlowID(s)
						return err
					}
					return d.flowVersion(&r.Version)
				})
				req = r
				return err
			case "EndTrace":
				var r EndTrace
				err := d.Struct("an EndTrace object", []string{"trace_id", "status"}, 0b11, func(i int) error {
					if i == 0 {
						u, err := d.UUID()
						r.TraceID = u
						return err
					}
					return d.status(&r.Status)
				})
				req = r
				return err
			case "RecordEvent":
				r := &RecordEvent{}
				d.StopInterning() // one event: its strings do not repeat
				err := d.traceEvent("a RecordEvent object", &r.TraceID, &r.Event)
				req = *r
				return err
			case "GetTrace":
				var r GetTrace
				err := d.Struct("a GetTrace object", []string{"trace_id", "request_id"}, 1, func(i int) error {
					if i == 1 {
						return d.lenientRequestID(&r.RequestID)
					}
					u, err := d.UUID()
					r.TraceID = u
					return err
				})
				req = r
				return err
			case "QueryTraces":
				var r QueryTraces
				err := d.Struct("a QueryTraces object", []string{"query", "request_id"}, 1, func(i int) error {
					if i == 1 {
						return d.lenientRequestID(&r.RequestID)
					}
					return d.traceQuery(&r.Query)
				})
				req = r
				return err
			case "GetFlowVersions":
				var r GetFlowVersions
				err := d.Struct("a GetFlowVersions object", []string{"flow_id"}, 1, func(int) error {
					s, err := d.Str()
					r.FlowID = tracing.FlowID(s)
					return err
				})
				req = r
				return err
			case "Subscribe":
				// The legacy Subscribe names its field "filter"; the server
				// reads it when "filters" is absent (and refuses it).
				var r, legacy Subscribe
				err := d.Struct("a Subscribe object", []string{"filters", "filter"}, 0, func(i int) error {
					if i == 1 {
						return d.filters(&legacy.Filters)
					}
					return d.filters(&r.Filters)
				})
				if err != nil {
					return err
				}
				if s := d.LastSeen(); s&1 == 0 {
					if s&2 == 0 {
						return d.Errorf("missing field %q", "filters")
					}
					r = legacy
					r.Legacy = true
				}
				req = r
				return nil
			case "StoreTrace":
				r := &StoreTrace{}
				err := d.Struct("a StoreTrace object", []string{"trace"}, 1, func(int) error {
					return d.flowTrace(&r.Trace)
				})
				req = *r
				return err
			}
			return d.UnknownVariant("request", tag)
		})
	if err != nil {
		return nil, err
	}
	return req, nil
}

// lenientRequestID reads the request_id of a GetTrace or QueryTraces
// request like a generation-2 server: a UUID string is the request id;
// Null or any other JSON value sends the request down the legacy path,
// which ignores it, so it reads as the zero id.
func (d *decoder) lenientRequestID(id *RequestID) error {
	if d.Peek() == '"' {
		b, err := d.RawString()
		if err != nil {
			return err
		}
		if u, err := uuid.Parse(b); err == nil {
			*id = u
		}
		d.SkipSpace()
		return nil
	}
	return d.Skip()
}

// optRequestID reads the request_id of a reply: a UUID, or null (zero).
func (d *decoder) optRequestID(id *RequestID) error {
	u, err := d.OptUUID()
	*id = u
	return err
}

func (d *decoder) traceIDBody(what string) (tracing.TraceID, error) {
	var id tracing.TraceID
	err := d.Struct(what, []string{"trace_id"}, 1, func(int) error {
		u, err := d.UUID()
		id = u
		return err
	})
	return id, err
}

func (d *decoder) response() (TracingResponse, error) {
	var resp TracingResponse
	err := d.Variant("a response",
		func(tag []byte) (bool, error) {
			switch string(tag) {
			case "Pong":
				resp = Pong{}
				return true, nil
			case "TraceStarted", "EventRecorded", "TraceData", "QueryResults", "FlowVersions",
				"EventNotification", "Error", "TraceStored", "TracesFound", "Metrics":
				return false, nil
			}
			return false, d.UnknownVariant("response", tag)
		},
		func(tag []byte) error {
			name := string(tag)
			d.Push(name)
			defer d.Pop()
			switch name {
			case "TraceStarted":
				id, err := d.traceIDBody("a TraceStarted object")
				resp = TraceStarted{TraceID: id}
				return err
			case "TraceStored":
				id, err := d.traceIDBody("a TraceStored object")
				resp = TraceStored{TraceID: id}
				return err
			case "EventRecorded":
				var r EventRecorded
				err := d.Struct("an EventRecorded object", []string{"success", "error"}, 0b01, func(i int) error {
					var err error
					if i == 0 {
						r.Success, err = d.Bool()
					} else {
						r.Error, err = d.OptStr()
					}
					return err
				})
				resp = r
				return err
			case "TraceData":
				var r TraceData
				err := d.Struct("a TraceData object", []string{"trace", "request_id"}, 0, func(i int) error {
					if i == 1 {
						return d.optRequestID(&r.RequestID)
					}
					if d.Null() {
						return nil
					}
					r.Trace = &tracing.FlowTrace{}
					return d.flowTrace(r.Trace)
				})
				resp = r
				return err
			case "QueryResults", "TracesFound":
				var r QueryResults
				names := []string{"traces", "total_count", "request_id"}
				required := uint32(0b011)
				if name == "TracesFound" {
					names, required = names[:1], 1
				}
				err := d.Struct("a "+name+" object", names, required, func(i int) error {
					switch i {
					case 1:
						var err error
						r.TotalCount, err = d.Uint(math.MaxUint64)
						return err
					case 2:
						return d.optRequestID(&r.RequestID)
					}
					r.Traces = []tracing.FlowTrace{}
					return d.Array("an array of traces", func() error {
						r.Traces = append(r.Traces, tracing.FlowTrace{})
						return d.flowTrace(&r.Traces[len(r.Traces)-1])
					})
				})
				if name == "TracesFound" {
					resp = TracesFound{Traces: r.Traces}
				} else {
					resp = r
				}
				return err
			case "FlowVersions":
				var r FlowVersions
				err := d.Struct("a FlowVersions object", []string{"versions"}, 1, func(int) error {
					r.Versions = []tracing.FlowVersion{}
					return d.Array("an array of versions", func() error {
						r.Versions = append(r.Versions, tracing.FlowVersion{})
						return d.flowVersion(&r.Versions[len(r.Versions)-1])
					})
				})
				resp = r
				return err
			case "EventNotification":
				r := &EventNotification{}
				d.StopInterning() // one event: its strings do not repeat
				err := d.traceEvent("an EventNotification object", &r.TraceID, &r.Event)
				resp = *r
				return err
			case "Error":
				var r ErrorResponse
				err := d.Struct("an Error object", []string{"message", "code"}, 1, func(i int) error {
					if i == 0 {
						var err error
						r.Message, err = d.Str()
						return err
					}
					// A code that is not a string of the protocol's codes
					// makes the reply the legacy shape, which has no code.
					if d.Peek() == '"' {
						s, err := d.RawString()
						if err != nil {
							return err
						}
						if c := ErrorCode(s); c.Valid() {
							r.Code = c
						}
						d.SkipSpace()
						return nil
					}
					return d.Skip()
				})
				resp = r
				return err
			case "Metrics":
				var r Metrics
				err := d.Struct("a Metrics object", []string{"data"}, 1, func(int) error {
					start := d.Offset()
					if err := d.Skip(); err != nil {
						return err
					}
					raw := d.Input()[start:d.Offset()]
					for len(raw) > 0 && strings.IndexByte(" \t\r\n", raw[len(raw)-1]) >= 0 {
						raw = raw[:len(raw)-1]
					}
					r.Data = append([]byte(nil), raw...)
					return nil
				})
				resp = r
				return err
			}
			return d.UnknownVariant("response", tag)
		})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

var eventFields = []string{"event_id", "timestamp", "event_type", "actor_id", "data", "causality"}

// traceEvent reads the {"trace_id", "event"} body that RecordEvent and
// EventNotification share.
func (d *decoder) traceEvent(what string, id *tracing.TraceID, ev *tracing.TraceEvent) error {
	return d.Struct(what, []string{"trace_id", "event"}, 0b11, func(i int) error {
		if i == 0 {
			var err error
			*id, err = d.UUID()
			return err
		}
		return d.event(ev)
	})
}

func (d *decoder) event(ev *tracing.TraceEvent) error {
	return d.Struct("a TraceEvent object", eventFields, 0b111111, func(i int) error {
		var err error
		switch i {
		case 0:
			var u [16]byte
			u, err = d.UUID()
			ev.EventID = u
		case 1:
			ev.Timestamp, err = d.Time()
		case 2:
			err = d.eventType(&ev.Type)
		case 3:
			ev.ActorID, err = d.Str()
		case 4:
			err = d.eventData(&ev.Data)
		case 5:
			err = d.causality(&ev.Causality)
		}
		return err
	})
}

func (d *decoder) eventType(t *tracing.TraceEventType) error {
	*t = tracing.TraceEventType{}
	return d.Variant("an event type",
		func(tag []byte) (bool, error) {
			switch string(tag) {
			case "DataFlow":
				t.Kind = tracing.KindDataFlow
				return false, nil
			case "Custom":
				t.Kind = tracing.KindCustom
				return false, nil
			}
			for k := tracing.KindActorCreated; k <= tracing.KindNetworkEvent; k++ {
				if k != tracing.KindDataFlow && k.String() == string(tag) {
					t.Kind = k
					return true, nil
				}
			}
			return false, d.UnknownVariant("event type", tag)
		},
		func(tag []byte) error {
			if t.Kind == tracing.KindCustom {
				d.Push("Custom")
				defer d.Pop()
				var err error
				t.Name, err = d.Str()
				return err
			}
			d.Push("DataFlow")
			defer d.Pop()
			return d.Struct("a DataFlow object", []string{"to_actor", "to_port"}, 0b11, func(i int) error {
				var err error
				if i == 0 {
					t.ToActor, err = d.Str()
				} else {
					t.ToPort, err = d.Str()
				}
				return err
			})
		})
}

var dataFields = []string{"port", "message", "state_diff", "error", "performance_metrics", "custom_attributes"}

func (d *decoder) eventData(data *tracing.TraceEventData) error {
	return d.Struct("a data object", dataFields, 0b110000, func(i int) error {
		var err error
		switch i {
		case 0:
			data.Port, err = d.OptStr()
		case 1:
			if d.Null() {
				data.HasMessage = false
				return nil
			}
			data.HasMessage = true
			err = d.messageSnapshot(&data.Message)
		case 2:
			if d.Null() {
				data.StateDiff = tracing.StateDiff{}
				return nil
			}
			err = d.stateDiff(&data.StateDiff)
		case 3:
			data.Error, err = d.OptStr()
		case 4:
			err = d.perf(&data.PerformanceMetrics)
		case 5:
			err = d.Attributes(&data.CustomAttributes)
		}
		return err
	})
}

var snapshotFields = []string{"message_type", "size_bytes", "checksum", "serialized_data", "content_codec", "content_format_version", "stored_bytes"}

// messageSnapshot reads a MessageSnapshot in either generation's form:
// serialized_data may be absent (nil), and the generation-2 fields are
// optional.
func (d *decoder) messageSnapshot(m *tracing.MessageSnapshot) error {
	*m = tracing.MessageSnapshot{}
	return d.Struct("a MessageSnapshot object", snapshotFields, 0b0111, func(i int) error {
		var err error
		switch i {
		case 0:
			m.MessageType, err = d.Str()
		case 1:
			m.SizeBytes, err = d.Uint(math.MaxUint64)
		case 2:
			m.Checksum, err = d.Str()
		case 3:
			m.SerializedData, err = d.Bytes()
		case 4:
			m.ContentCodec, err = d.Str()
		case 5:
			var n uint64
			n, err = d.Uint(math.MaxUint32)
			m.ContentFormatVersion = uint32(n)
		case 6:
			if d.Null() {
				return nil
			}
			m.StoredBytes, err = d.Uint(math.MaxUint64)
			m.HasStoredBytes = err == nil
		}
		return err
	})
}

var stateDiffFields = []string{"before", "after", "diff_type"}

func (d *decoder) stateDiff(s *tracing.StateDiff) error {
	return d.Struct("a StateDiff object", stateDiffFields, 0b110, func(i int) error {
		var err error
		switch i {
		case 0:
			if d.Null() {
				s.Before = nil
				return nil
			}
			s.Before, err = d.Bytes()
		case 1:
			s.After, err = d.Bytes()
		case 2:
			err = d.Variant("a diff type", func(tag []byte) (bool, error) {
				switch string(tag) {
				case "Full":
					s.DiffType = tracing.DiffFull
				case "Incremental":
					s.DiffType = tracing.DiffIncremental
				case "MemoryOnly":
					s.DiffType = tracing.DiffMemoryOnly
				default:
					return false, d.UnknownVariant("diff type", tag)
				}
				return true, nil
			}, nil)
		}
		return err
	})
}

var perfFields = []string{"execution_time_ns", "memory_usage_bytes", "cpu_usage_percent", "queue_depth", "throughput_msgs_per_sec"}

// perf reads PerformanceMetrics in either generation's form: a field that
// is null or absent is not measured (generation 2), a number is measured.
func (d *decoder) perf(p *tracing.PerformanceMetrics) error {
	var nulls tracing.MetricFields
	err := d.Struct("a PerformanceMetrics object", perfFields, 0, func(i int) error {
		if d.Null() {
			nulls |= 1 << i
			return nil
		}
		var err error
		switch i {
		case 0:
			p.ExecutionTimeNs, err = d.Uint(math.MaxUint64)
		case 1:
			p.MemoryUsageBytes, err = d.Uint(math.MaxUint64)
		case 2:
			p.CPUUsagePercent, err = d.Float()
		case 3:
			p.QueueDepth, err = d.Uint(math.MaxUint64)
		case 4:
			p.ThroughputMsgsPerSec, err = d.Float()
		}
		return err
	})
	if err != nil {
		return err
	}
	p.Unmeasured = nulls | tracing.AllMetricFields&^tracing.MetricFields(d.LastSeen())
	return nil
}

var causalityFields = []string{"parent_event_id", "root_cause_event_id", "dependency_chain", "span_id"}

func (d *decoder) causality(c *tracing.CausalityInfo) error {
	return d.Struct("a CausalityInfo object", causalityFields, 0b1110, func(i int) error {
		var err error
		switch i {
		case 0:
			var u [16]byte
			u, err = d.OptUUID()
			c.ParentEventID = u
		case 1:
			var u [16]byte
			u, err = d.UUID()
			c.RootCauseEventID = u
		case 2:
			c.DependencyChain = []tracing.EventID{}
			err = d.Array("an array of event ids", func() error {
				u, err := d.UUID()
				c.DependencyChain = append(c.DependencyChain, u)
				return err
			})
		case 3:
			c.SpanID, err = d.Str()
		}
		return err
	})
}

var flowTraceFields = []string{"trace_id", "flow_id", "execution_id", "version", "start_time", "end_time", "status", "events", "metadata"}

func (d *decoder) flowTrace(t *tracing.FlowTrace) error {
	return d.Struct("a FlowTrace object", flowTraceFields, 0b111011111, func(i int) error {
		var err error
		switch i {
		case 0:
			var u [16]byte
			u, err = d.UUID()
			t.TraceID = u
		case 1:
			var s string
			s, err = d.Str()
			t.FlowID = tracing.FlowID(s)
		case 2:
			var u [16]byte
			u, err = d.UUID()
			t.ExecutionID = u
		case 3:
			err = d.flowVersion(&t.Version)
		case 4:
			t.StartTime, err = d.Time()
		case 5:
			if d.Null() {
				t.EndTime = time.Time{}
				return nil
			}
			t.EndTime, err = d.Time()
		case 6:
			err = d.status(&t.Status)
		case 7:
			t.Events = []tracing.TraceEvent{}
			err = d.Array("an array of events", func() error {
				t.Events = append(t.Events, tracing.TraceEvent{})
				return d.event(&t.Events[len(t.Events)-1])
			})
		case 8:
			err = d.metadata(&t.Metadata)
		}
		return err
	})
}

var versionFields = []string{"major", "minor", "patch", "git_hash", "timestamp"}

func (d *decoder) flowVersion(v *tracing.FlowVersion) error {
	return d.Struct("a FlowVersion object", versionFields, 0b10111, func(i int) error {
		var err error
		var n uint64
		switch i {
		case 0:
			n, err = d.Uint(math.MaxUint32)
			v.Major = uint32(n)
		case 1:
			n, err = d.Uint(math.MaxUint32)
			v.Minor = uint32(n)
		case 2:
			n, err = d.Uint(math.MaxUint32)
			v.Patch = uint32(n)
		case 3:
			v.GitHash, err = d.OptStr()
		case 4:
			v.Timestamp, err = d.Time()
		}
		return err
	})
}

func (d *decoder) status(s *tracing.ExecutionStatus) error {
	*s = tracing.ExecutionStatus{}
	return d.Variant("an execution status",
		func(tag []byte) (bool, error) {
			for k := tracing.StatusPending; k <= tracing.StatusCancelled; k++ {
				if k.String() == string(tag) {
					s.Kind = k
					return k != tracing.StatusFailed, nil
				}
			}
			return false, d.UnknownVariant("execution status", tag)
		},
		func([]byte) error {
			d.Push("Failed")
			defer d.Pop()
			return d.Struct("a Failed object", []string{"error"}, 1, func(int) error {
				var err error
				s.Error, err = d.Str()
				return err
			})
		})
}

var metadataFields = []string{"user_id", "session_id", "environment", "hostname", "process_id", "thread_id", "tags"}

func (d *decoder) metadata(m *tracing.TraceMetadata) error {
	return d.Struct("a TraceMetadata object", metadataFields, 0b1111100, func(i int) error {
		var err error
		switch i {
		case 0:
			m.UserID, err = d.OptStr()
		case 1:
			m.SessionID, err = d.OptStr()
		case 2:
			m.Environment, err = d.Str()
		case 3:
			m.Hostname, err = d.Str()
		case 4:
			var n uint64
			n, err = d.Uint(math.MaxUint32)
			m.ProcessID = uint32(n)
		case 5:
			m.ThreadID, err = d.Str()
		case 6:
			m.Tags = map[string]string{}
			if err = d.OpenObject("an object of strings"); err != nil {
				return err
			}
			for first := true; ; first = false {
				k, more, err := d.NextKey(first)
				if err != nil || !more {
					return err
				}
				key := d.Intern(k)
				d.Push(key)
				v, err := d.Str()
				d.Pop()
				if err != nil {
					return err
				}
				m.Tags[key] = v
			}
		}
		return err
	})
}

var queryFields = []string{"flow_id", "execution_id", "time_range", "status", "actor_filter", "limit", "offset"}

func (d *decoder) traceQuery(q *TraceQuery) error {
	return d.Struct("a TraceQuery object", queryFields, 0, func(i int) error {
		var err error
		if d.Null() {
			return nil
		}
		switch i {
		case 0:
			var s string
			s, err = d.Str()
			q.FlowID = tracing.FlowID(s)
		case 1:
			var u [16]byte
			u, err = d.UUID()
			q.ExecutionID = u
		case 2:
			n := 0
			err = d.Array("an array of two timestamps", func() error {
				if n == 2 {
					return d.Errorf("want two timestamps, got more")
				}
				t, err := d.Time()
				q.TimeRange[n] = t
				n++
				return err
			})
			if err == nil && n != 2 {
				err = d.Errorf("want two timestamps, got %d", n)
			}
			q.HasTimeRange = err == nil
		case 3:
			q.Status = &tracing.ExecutionStatus{}
			err = d.status(q.Status)
		case 4:
			q.ActorFilter, err = d.Str()
		case 5:
			q.Limit, err = d.Uint(math.MaxUint64)
		case 6:
			q.Offset, err = d.Uint(math.MaxUint64)
		}
		return err
	})
}

var filterFields = []string{"flow_ids", "actor_ids", "event_types", "status_filter"}

func (d *decoder) filters(f *SubscriptionFilters) error {
	return d.Struct("a SubscriptionFilters object", filterFields, 0, func(i int) error {
		if d.Null() {
			return nil
		}
		switch i {
		case 0:
			f.FlowIDs = []tracing.FlowID{}
			return d.Array("an array of strings", func() error {
				s, err := d.Str()
				f.FlowIDs = append(f.FlowIDs, tracing.FlowID(s))
				return err
			})
		case 1:
			f.ActorIDs = []string{}
			return d.Array("an array of strings", func() error {
				s, err := d.Str()
				f.ActorIDs = append(f.ActorIDs, s)
				return err
			})
		case 2:
			f.EventTypes = []tracing.TraceEventType{}
			return d.Array("an array of event types", func() error {
				f.EventTypes = append(f.EventTypes, tracing.TraceEventType{})
				return d.eventType(&f.EventTypes[len(f.EventTypes)-1])
			})
		default:
			f.StatusFilter = []tracing.ExecutionStatus{}
			return d.Array("an array of statuses", func() error {
				f.StatusFilter = append(f.StatusFilter, tracing.ExecutionStatus{})
				return d.status(&f.StatusFilter[len(f.StatusFilter)-1])
			})
		}
	})
}

// DecodeResponseFrame reads a server message from one WebSocket frame: a
// text frame (binary false) is JSON text (see DecodeResponse). A binary
// frame is JSON compressed with the algorithm the server is configured
// with, which the server does not announce, so it is told from the bytes:
// zstd (one frame, with or without a content-size field) and gzip (one
// stream) by their magic numbers, lz4 (one raw block without a size
// prefix, the form of the server's replies) and brotli (a raw stream),
// which have none, by trying both. The size-prepended lz4 form a client
// sends (4 bytes little-endian uncompressed length, then the block) is
// accepted too when nothing else decodes the frame and the block decodes
// to exactly the declared length.
//
// A compressed frame may hold up to 64 MiB of JSON, the largest message a
// Reflow server reads (its replies can exceed the protocol's 16 MiB, e.g.
// a QueryResults of many traces); a frame that decodes to more returns an
// error wrapping ErrMalformed and compress's ErrTooLarge, and stops
// decoding at the limit. A frame that does not decompress returns an error
// wrapping ErrMalformed and compress's ErrCorrupt; one that decompresses to
// something other than a message, as DecodeResponse. It never panics. It is
// safe for concurrent use: the decoders are pooled, so that only the first
// frames pay for building them.
func DecodeResponseFrame(binary bool, data []byte) (TracingResponse, error) {
	if !binary {
		return DecodeResponse(data)
	}
	d := detectPool.Get().(*compress.Detect)
	text, _, err := d.DecodeReply(nil, data)
	detectPool.Put(d)
	if err == nil {
		return DecodeResponse(text)
	}
	if plausiblePrefix(data) {
		// LZ4 is a known algorithm: NewCodec does not fail for it.
		if lz4, perr := compress.NewCodec(compress.LZ4); perr == nil {
			if text, perr := lz4.DecodeRequest(nil, data); perr == nil {
				return DecodeResponse(text)
			}
		}
	}
	// A pooled Detect tries lz4 and brotli in the order of its last
	// success, which decides the error reported for a frame that neither
	// decodes; a fresh one reports the same error for the same frame.
	var fresh compress.Detect
	if _, _, ferr := fresh.DecodeReply(nil, data); ferr != nil {
		err = ferr
	}
	return nil, fmt.Errorf("%w: binary frame: %w", tracing.ErrMalformed, err)
}

// detectPool holds the decoders of DecodeResponseFrame. A Detect keeps no
// goroutine, so one dropped by the pool needs no closing.
var detectPool = sync.Pool{New: func() any { return new(compress.Detect) }}

// plausiblePrefix reports whether data starts with a 4-byte little-endian
// length that could be the uncompressed size of a message.
func plausiblePrefix(data []byte) bool {
	if len(data) < 5 {
		return false
	}
	n := binary.LittleEndian.Uint32(data)
	return n > 0 && n <= compress.MaxMessageSize
}
