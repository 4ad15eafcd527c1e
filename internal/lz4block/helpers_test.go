package lz4block

import (
	"fmt"
	"math/rand/v2"
)

// jsonPayload returns about n bytes of trace-event-like JSON, the same for
// the same n.
func jsonPayload(n int) []byte {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	kinds := []string{"MessageSent", "MessageReceived", "ActorCreated", "StateChanged", "ActorFailed"}
	out := []byte("[")
	for i := 0; len(out) < n; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		out = fmt.Appendf(out, `{"event_id":"%08x-%04x-7%03x-8%03x-%012x","timestamp":"2025-06-01T12:%02d:%02d.%06dZ",`+
			`"event_type":{"%s":{"port":"out%d"}},"actor_id":"actor_%d","data":{"message":{"message_type":"Integer",`+
			`"size_bytes":%d,"checksum":"%016x"},"performance_metrics":{"execution_time_ns":%d,"queue_depth":%d}},`+
			`"causality":{"parent_event_id":null,"root_cause_event_id":"%08x","dependency_chain":[],"span_id":"s%d"}}`,
			r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1), r.IntN(60), r.IntN(60), r.IntN(1e6),
			kinds[r.IntN(len(kinds))], r.IntN(4), r.IntN(50), r.IntN(4096), r.Uint64(), r.IntN(1e7), r.IntN(100), r.Uint32(), i)
	}
	out = append(out, ']')
	return out
}

// randomBytes returns n incompressible bytes, the same for the same n.
func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(2, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
