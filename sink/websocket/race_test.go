//go:build race

package websocket

// raceEnabled tells the tests that the race detector runs. It makes
// sync.Pool drop a share of what is put back, so pooled buffers are
// allocated again and the heap peaks higher (the tests that measure the
// heap allow for it); and it makes the sink about ten times slower, so
// the tests that push very many events push fewer, enough for what they
// check.
const raceEnabled = true
