//go:build !race

package websocket

// raceEnabled tells the tests that measure the heap that the race
// detector runs (see race_test.go).
const raceEnabled = false
