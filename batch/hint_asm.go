//go:build amd64 || arm64

package batch

// hintPerGoroutine is true where laneHint never changes during the life of
// a goroutine.
const hintPerGoroutine = true

// curg returns the address of the runtime's descriptor of the calling
// goroutine, which stays the same for the goroutine's whole life. It is
// implemented in assembly (hint_$GOARCH.s).
func curg() uintptr

// laneHint returns a number that is the same for every call made by one
// goroutine: a hash of the address of the goroutine's runtime descriptor.
func laneHint() uint {
	return uint((uint64(curg()) * 0x9e3779b97f4a7c15) >> 58)
}
