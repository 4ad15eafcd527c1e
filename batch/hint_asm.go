//go:build amd64 || arm64

package batch

// hintPerGoroutine is true where producerID never changes during the life
// of a goroutine.
const hintPerGoroutine = true

// curg returns the address of the runtime's descriptor of the calling
// goroutine, which stays the same for the goroutine's whole life. It is
// implemented in assembly (hint_$GOARCH.s).
func curg() uintptr

// producerID returns a non-zero number that is the same for every call
// made by one goroutine and differs between goroutines that run at the same
// time: the address of the goroutine's runtime descriptor.
func producerID() uintptr { return curg() }
