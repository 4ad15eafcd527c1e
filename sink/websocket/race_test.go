//go:build race

package websocket

// raceEnabled tells the tests that measure the heap that the race
// detector runs: it makes sync.Pool drop a share of what is put back, so
// pooled buffers are allocated again and the heap peaks higher.
const raceEnabled = true
