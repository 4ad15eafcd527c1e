//go:build race

package anon

// raceEnabled tells the tests that the race detector runs: it makes
// sync.Pool drop a share of what is put back, so pooled buffers are
// allocated again.
const raceEnabled = true
