//go:build !race

package websocket

// raceEnabled tells the tests that the race detector runs (see
// race_test.go).
const raceEnabled = false
