//go:build !amd64 && !arm64

package batch

import "unsafe"

// hintPerGoroutine is false where producerID can change during the life of
// a goroutine.
const hintPerGoroutine = false

// stackShift drops the bits of a stack address that vary with call depth
// in goroutine stacks of up to 8 KiB, which are aligned to their size.
const stackShift = 13

// producerID returns a non-zero number that normally stays the same across
// the puts of one goroutine and differs between goroutines that run at the
// same time: the address of a local variable without its low bits. It
// changes when the runtime moves the goroutine's stack (when it grows or is
// shrunk by the garbage collector) and, for stacks larger than 8 KiB,
// between calls made at very different depths.
func producerID() uintptr {
	var x byte
	return uintptr(unsafe.Pointer(&x)) >> stackShift
}
