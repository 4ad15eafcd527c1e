package file

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// TestReadSmallFileAllocatesLittle checks that reading a file of one line
// allocates in proportion to the file, not to the largest block or buffer
// it could hold: a small lz4 frame declaring 4 MiB blocks included.
func TestReadSmallFileAllocatesLittle(t *testing.T) {
	var enc wire.Encoder
	ev := sinktest.Event(1)
	line := appendFileLine(&enc, nil, &ev)
	var z bytes.Buffer
	zw := lz4.NewWriter(&z)
	if err := zw.Apply(lz4.BlockSizeOption(lz4.Block4Mb)); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(line); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{name: "plain", data: line},
		{name: "lz4 with 4 MiB blocks", data: z.Bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			evs, bad := readBytes(t, tt.name, tt.data)
			runtime.ReadMemStats(&after)
			if len(evs) != 1 || len(bad) != 0 {
				t.Fatalf("read %d events, %d bad lines", len(evs), len(bad))
			}
			// 64 KiB of read buffer for an lz4 file, and the events.
			if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
				t.Fatalf("reading %d bytes allocated %d bytes", len(tt.data), n)
			}
		})
	}
}
