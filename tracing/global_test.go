package tracing

import "testing"

func TestGlobal(t *testing.T) {
	t.Cleanup(func() { SetGlobal(nil) })
	if g := Global(); g == nil || g.Enabled() {
		t.Fatal("Global() without SetGlobal must be a disabled, non-nil client")
	}
	c := newTestClient(t, &discardSink{}, nil)
	SetGlobal(c)
	if Global() != c {
		t.Fatal("Global() does not return the client set")
	}
	SetGlobal(nil)
	if g := Global(); g == c || g.Enabled() {
		t.Fatal("SetGlobal(nil) did not restore the disabled client")
	}
}
