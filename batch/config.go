package batch

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Defaults taken by the zero values of [Config].
const (
	// DefaultCapacity is the number of routine slots.
	DefaultCapacity = 8192
	// DefaultMaxBatch is the most items handed to handle in one call.
	DefaultMaxBatch = 512
	// DefaultTimeout is how long the oldest item of a batch waits at most
	// before the batch is handed over, however small it is.
	DefaultTimeout = 100 * time.Millisecond
	// MinCriticalCapacity is the smallest default priority lane.
	MinCriticalCapacity = 64
	// MaxCapacity is the largest Capacity or CriticalCapacity New accepts
	// (after rounding up).
	MaxCapacity = 1 << 30
	// MaxMemory is the most bytes of slots New allocates for a queue: all
	// lanes' slots plus each slot's 4-byte sequence number and 1-byte
	// mark, as
	// Config.MemoryBytes counts them. A Config that would take more is
	// rejected, naming the field, instead of failing the allocation
	// (which the runtime cannot recover from). 1 GiB.
	MaxMemory = 1 << 30
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrClosed is returned by PutWait and Flush once Close has been called.
	ErrClosed = errors.New("batch: queue closed")
	// ErrFull is returned by PutWait under the DropNewest policy when the
	// routine lanes are full.
	ErrFull = errors.New("batch: queue full")
	// ErrNilItem is returned by PutWait for a nil pointer. Put, PutCritical
	// and the With variants refuse a nil pointer or fill function by
	// returning false; all count it in Stats.DroppedNil.
	ErrNilItem = errors.New("batch: nil item")
	// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
	ErrInvalidConfig = errors.New("batch: invalid config")
)

// Policy says what PutWait does when the routine lanes are full. Put and
// PutCritical never block, whatever the policy.
//
// The policies, their values and names (String):
//
//	DropNewest   0  drop_newest
//	Block        1  block
type Policy uint8

const (
	// DropNewest (the default) makes PutWait behave like Put: when the lanes
	// are full the item is dropped at once, counted in Stats.DroppedFull, and
	// PutWait returns ErrFull.
	DropNewest Policy = iota
	// Block makes PutWait wait until there is room, the ctx ends or the queue
	// is closed.
	Block
)

// String returns "drop_newest" or "block".
func (p Policy) String() string {
	switch p {
	case DropNewest:
		return "drop_newest"
	case Block:
		return "block"
	default:
		return fmt.Sprintf("Policy(%d)", uint8(p))
	}
}

// Config configures a Queue. It is a plain value; zero fields take the
// documented defaults. New does not keep a reference to it.
type Config struct {
	// Capacity is the number of routine slots, rounded up to a power of two
	// (at most MaxCapacity) and split evenly between the routine lanes (see
	// Queue). All slots are allocated by New: together with
	// CriticalCapacity's they may take at most MaxMemory (see MemoryBytes).
	// Default: DefaultCapacity.
	Capacity int
	// CriticalCapacity is the number of priority lane slots, rounded up to a
	// power of two. Default: Capacity/8 rounded up to a power of two, at
	// least MinCriticalCapacity.
	CriticalCapacity int
	// MaxBatch is the most items per handle call; a batch that reaches it is
	// handed over at once. It is capped at Capacity and CriticalCapacity,
	// whichever is larger. Default: DefaultMaxBatch.
	MaxBatch int
	// Timeout is how long the oldest item of a batch may wait before the
	// batch is handed over even though it is not full. It is measured from
	// when the consumer first sees the item: at once if the consumer was
	// idle, or when handle returns if the item arrived during a handle call.
	// It holds whatever the other lanes do: a lane kept busy with full
	// batches does not delay another lane's partial batch.
	// Default: DefaultTimeout.
	Timeout time.Duration
	// Policy says what PutWait does when the routine lanes are full.
	// Default: DropNewest.
	Policy Policy
	// ClearOnReuse, for item types that contain pointers, leaves a slot as
	// handle left it once its batch is handed over, and clears it only
	// when a later put takes it: PutWith and PutCriticalWith clear the
	// slot they claim before calling fill, and Put and PutCritical
	// overwrite it. By default the consumer clears each batch's slots when
	// handle returns, so that the garbage collector can free what the
	// items point to at once; a put then writes each slot's memory once
	// more, which for large items costs more than the rest of the put.
	// With ClearOnReuse, what a handed-over item points to stays reachable
	// until its slot is reused, at most Capacity (or CriticalCapacity)
	// puts later, until handle clears it, or until Close has handed
	// everything over, which clears every slot. Slots of types without
	// pointers are always cleared on reuse. Default: false.
	ClearOnReuse bool
}

// withDefaults validates c and returns it with defaults applied, capacities
// rounded up to powers of two and MaxBatch capped at the capacities.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, &configError{msg: "batch: " + fmt.Sprintf(format, args...)})
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Capacity", c.Capacity}, {"CriticalCapacity", c.CriticalCapacity}} {
		if f.v < 0 {
			bad("%s must be > 0, got %d", f.name, f.v)
		} else if f.v > MaxCapacity {
			bad("%s must be <= %d, got %d", f.name, MaxCapacity, f.v)
		}
	}
	if c.MaxBatch < 0 {
		bad("MaxBatch must be > 0, got %d", c.MaxBatch)
	}
	if c.Timeout < 0 {
		bad("Timeout must be > 0, got %s", c.Timeout)
	}
	if c.Policy > Block {
		bad("Policy must be DropNewest or Block, got %s", c.Policy)
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	c.applySizes()
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	c.MaxBatch = min(c.MaxBatch, max(c.Capacity, c.CriticalCapacity))
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c, nil
}

// slotOverhead is the per-slot cost on top of the item: its sequence
// number and its mark (see Queue.PutReuse).
const slotOverhead = 5

// MemoryBytes returns the bytes of slots a Queue built from c holds for
// items of itemSize bytes (unsafe.Sizeof of the item type): capacities
// take their defaults and are rounded up as New does, and each slot costs
// itemSize plus a 4-byte sequence number and a 1-byte mark (see
// Queue.PutReuse). The queue allocates it all in
// New and keeps it until it is garbage collected; memory the items point
// to is not counted. It returns -1 if Capacity or CriticalCapacity is
// negative or above MaxCapacity, and saturates at math.MaxInt64. New
// rejects a Config for which it exceeds MaxMemory.
func (c Config) MemoryBytes(itemSize uintptr) int64 {
	if c.Capacity < 0 || c.Capacity > MaxCapacity || c.CriticalCapacity < 0 || c.CriticalCapacity > MaxCapacity {
		return -1
	}
	c.applySizes()
	slots := uint64(c.Capacity) + uint64(c.CriticalCapacity)
	per, carry := bits.Add64(uint64(itemSize), slotOverhead, 0)
	hi, lo := bits.Mul64(slots, per)
	if carry != 0 || hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

// applySizes sets the default capacities and rounds them up to powers of
// two; c's capacities must be within [0, MaxCapacity].
func (c *Config) applySizes() {
	if c.Capacity == 0 {
		c.Capacity = DefaultCapacity
	}
	c.Capacity = ceilPow2(c.Capacity)
	if c.CriticalCapacity == 0 {
		c.CriticalCapacity = max(c.Capacity/8, MinCriticalCapacity)
	}
	c.CriticalCapacity = ceilPow2(c.CriticalCapacity)
}

// checkMemory returns an error naming the larger capacity field if the
// slots of c, whose sizes are applied, would take more than MaxMemory.
func (c Config) checkMemory(itemSize uintptr) error {
	m := c.MemoryBytes(itemSize)
	if m <= MaxMemory {
		return nil
	}
	field, n := "Capacity", c.Capacity
	if c.CriticalCapacity > c.Capacity {
		field, n = "CriticalCapacity", c.CriticalCapacity
	}
	return &configError{msg: fmt.Sprintf(
		"batch: %s = %d: the queue would take %s of slots (%d routine and %d priority slots of %d bytes each), more than MaxMemory (%s)",
		field, n, formatBytes(m), c.Capacity, c.CriticalCapacity, uint64(itemSize)+slotOverhead, formatBytes(MaxMemory))}
}

// formatBytes writes n in the largest binary unit that keeps it >= 1.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 5 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTPE"[i])
}

// ceilPow2 returns the smallest power of two >= n, for 1 <= n <= MaxCapacity.
func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// configError names the bad field of a Config and wraps ErrInvalidConfig.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }
