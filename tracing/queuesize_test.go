package tracing

import (
	"errors"
	"strings"
	"testing"
	"unsafe"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// slotBytes is what one queue slot costs: the event, its sequence number
// and its mark.
const slotBytes = int64(unsafe.Sizeof(TraceEvent{})) + 5

// TestValidate_QueueSizeMemory checks that Validate rejects a QueueSize
// whose queue would take more than batch.MaxMemory, instead of letting New
// die allocating it, and accepts the largest one that fits.
func TestValidate_QueueSizeMemory(t *testing.T) {
	// QueueSize n (a power of two) takes n + n/8 slots.
	fits := 1
	for int64(2*fits+2*fits/8)*slotBytes <= batch.MaxMemory {
		fits *= 2
	}
	if fits != maxQueueSize {
		t.Fatalf("maxQueueSize = %d, want %d", maxQueueSize, fits)
	}
	tests := []struct {
		name    string
		size    int
		wantErr string
	}{
		{name: "default", size: defaultQueueSize},
		{name: "largest that fits", size: fits},
		{name: "next size", size: fits + 1, wantErr: "more than the limit of 1.0 GiB: want at most "},
		{name: "1<<30", size: 1 << 30, wantErr: "QueueSize = 1073741824: the queue would take 716.6 GiB of event slots, more than the limit of 1.0 GiB"},
		{name: "above batch.MaxCapacity", size: batch.MaxCapacity + 1, wantErr: "more than the 1073741824 slots a queue can have"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.QueueSize = tt.size
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "QueueSize = ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an ErrInvalidConfig naming QueueSize and containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestQueueMemory checks the bytes a config's queue holds: what the
// queue allocates, counted as batch counts it.
func TestQueueMemory(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		slots int64 // routine and priority slots
	}{
		{"zero is the default", 0, defaultQueueSize + defaultQueueSize/8},
		{"default", defaultQueueSize, defaultQueueSize + defaultQueueSize/8},
		{"rounded up", 5000, 8192 + 1024},
		// The priority lane has a floor of batch.MinCriticalCapacity.
		{"small", 1, 1 + batch.MinCriticalCapacity},
		{"largest", maxQueueSize, int64(maxQueueSize) + int64(maxQueueSize)/8},
		{"1<<30", 1 << 30, (1 << 30) + (1<<30)/8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TracingConfig{QueueSize: tt.size}.QueueMemory()
			if want := tt.slots * slotBytes; got != want {
				t.Fatalf("QueueMemory() = %d, want %d (%d slots of %d bytes)", got, want, tt.slots, slotBytes)
			}
		})
	}
	if got := (TracingConfig{QueueSize: -1}).QueueMemory(); got != -1 {
		t.Errorf("QueueMemory() of a negative QueueSize = %d, want -1", got)
	}
	if got := (TracingConfig{QueueSize: batch.MaxCapacity + 1}).QueueMemory(); got != -1 {
		t.Errorf("QueueMemory() above batch.MaxCapacity = %d, want -1", got)
	}
	if m := DefaultConfig().QueueMemory(); m > 8<<20 {
		t.Errorf("the default queue holds %d bytes; QueueSize's doc says 5.6 MiB", m)
	}
}

// TestNewRejectsHugeQueue checks that New returns the error rather than
// dying allocating the queue.
func TestNewRejectsHugeQueue(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueueSize = 1 << 30
	c, err := New(cfg, WithSink(newRecordSink()))
	if err == nil {
		_ = c.Close(t.Context())
		t.Fatal("New accepted QueueSize 1<<30")
	}
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "QueueSize = 1073741824: the queue would take 716.6 GiB") {
		t.Fatalf("New: %v", err)
	}
}
