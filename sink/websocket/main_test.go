package websocket

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if gen := os.Getenv(memServerEnv); gen != "" {
		// A test server for the memory measurements (memserver_test.go).
		os.Exit(runMemServer(gen))
	}
	goleak.VerifyTestMain(m)
}
