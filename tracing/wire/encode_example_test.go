package wire_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func ExampleEncoder() {
	id, _ := tracing.ParseEventID("0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22")
	ev := tracing.TraceEvent{
		EventID:   id,
		Timestamp: time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC),
		Type:      tracing.TraceEventType{Kind: tracing.KindActorFailed},
		ActorID:   "sensor",
	}
	ev.Data.Error = "offline"
	ev.Data.CustomAttributes.Add(attr.Int("attempt", 3))

	var e wire.Encoder
	buf := e.AppendEvent(nil, &ev) // reuse buf[:0] for the next event
	fmt.Println(string(buf))
	// Output:
	// {"event_id":"0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22","timestamp":"2026-11-26T10:30:00Z","event_type":"ActorFailed","actor_id":"sensor","data":{"port":null,"message":null,"state_diff":null,"error":"offline","performance_metrics":{"execution_time_ns":0,"memory_usage_bytes":0,"cpu_usage_percent":0.0,"queue_depth":0,"throughput_msgs_per_sec":0.0},"custom_attributes":{"attempt":3}},"causality":{"parent_event_id":null,"root_cause_event_id":"0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22","dependency_chain":[],"span_id":"9d2f3b5c8e0f1a22"}}
}

func ExampleDecodeResponse() {
	for _, reply := range []string{
		`{"TraceStored":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"}}`,
		`{"Error":{"message":"disk full","code":"StorageError"}}`,
		`{"Error":{"message":"Invalid message format"}}`,
	} {
		resp, err := wire.DecodeResponse([]byte(reply))
		if err != nil {
			fmt.Println(err)
			continue
		}
		switch r := resp.(type) {
		case wire.TraceStored:
			fmt.Println("stored", r.TraceID)
		case wire.ErrorResponse:
			err := error(r.Err())
			var se *wire.ServerError
			if errors.As(err, &se) {
				fmt.Printf("%v (retryable: %v)\n", err, se.Retryable())
			}
		}
	}
	// Output:
	// stored 6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60
	// tracing: server error StorageError: disk full (retryable: true)
	// tracing: server error: Invalid message format (retryable: false)
}
