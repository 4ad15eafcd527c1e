package tracing

import (
	"errors"
	"strings"
	"testing"
	"unsafe"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// TestValidate_QueueSizeMemory checks that Validate rejects a QueueSize
// whose queue would take more than batch.MaxMemory, instead of letting New
// die allocating it, and accepts the largest one that fits.
func TestValidate_QueueSizeMemory(t *testing.T) {
	per := int(unsafe.Sizeof(TraceEvent{})) + 4 // slot plus sequence number
	// QueueSize n (a power of two) takes n + n/8 slots.
	fits := 1
	for (2*fits+2*fits/8)*per <= batch.MaxMemory {
		fits *= 2
	}
	tests := []struct {
		name    string
		size    int
		wantErr string
	}{
		{name: "default", size: DefaultQueueSize},
		{name: "largest that fits", size: fits},
		{name: "next power of two", size: fits + 1, wantErr: "QueueSize = "},
		{name: "1<<30", size: 1 << 30, wantErr: "MiB of event slots, more than batch.MaxMemory (1024 MiB)"},
		{name: "above batch.MaxCapacity", size: batch.MaxCapacity + 1, wantErr: "must be at most batch.MaxCapacity"},
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
			if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "QueueSize") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an ErrInvalidConfig naming QueueSize and containing %q", err, tt.wantErr)
			}
			t.Log(err)
		})
	}
}
