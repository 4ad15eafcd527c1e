package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSummary checks the shape of the closing summary: every data-flow
// edge with its messages and bytes, and the counters with the drops by
// reason.
func TestSummary(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()

	_, flows, ok := strings.Cut(text, "data flows:\n")
	if !ok {
		t.Fatalf("no data flows section:\n%s", text)
	}
	edgeLine := regexp.MustCompile(`^  (\S+:\S+) +→ (\S+:\S+) +(\d+) messages +(\d+) bytes$`)
	var edges []string
	for _, l := range strings.Split(flows, "\n") {
		m := edgeLine.FindStringSubmatch(l)
		if m == nil {
			break
		}
		edges = append(edges, strings.Join(m[1:], " "))
	}
	n := runs * readings
	want := []string{
		fmt.Sprintf("sensor:out scaler:in %d %d", n, 8*n),
		fmt.Sprintf("scaler:out printer:in %d %d", n, 8*n),
	}
	if strings.Join(edges, "\n") != strings.Join(want, "\n") {
		t.Errorf("edges (from to messages bytes):\n%s\nwant:\n%s\nin:\n%s", strings.Join(edges, "\n"), strings.Join(want, "\n"), text)
	}

	counters := regexp.MustCompile(`\nrecorded (\d+), delivered (\d+), dropped 0\n  dropped by reason: queue full 0, closed 0, sampled out 0, filtered 0, write error 0, sink queue full 0\n$`)
	if m := counters.FindStringSubmatch(text); m == nil || m[1] != m[2] {
		t.Errorf("counters and drops by reason missing or wrong:\n%s", text)
	}
}
