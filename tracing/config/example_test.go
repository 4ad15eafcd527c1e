package config_test

import (
	"fmt"
	"log"
	"os"

	"github.com/reflowtrace/reflowtrace-go/tracing/config"
)

// A file is loaded over the defaults, and code wins over it. Messages
// name a setting as the file writes it, and by its Go path once code
// changed it.
func Example() {
	cfg, err := config.Load("testdata/reflow_docs.toml")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.ServerURL, cfg.BatchSize, cfg.Retry.MaxRetries)
	cfg.QueueSize = 10 // too small for the file's batch_size
	fmt.Println(cfg.Validate())
	// Output:
	// ws://localhost:8080 50 3
	// tracing: invalid config: QueueSize = 10: must be at least tracing.batch_size (50)
}

// Every problem of a file is reported at once, with its line, key and
// what is wanted; a misspelt key gets the nearest known one.
func ExampleLoad() {
	_, err := config.Load("testdata/typo.toml")
	fmt.Println(err)
	// Output:
	// tracing: invalid config: testdata/typo.toml:3: unknown key tracing.batch_sise: did you mean tracing.batch_size?
	// tracing: invalid config: testdata/typo.toml:6: unknown key tracing.filter.actor_patterns: did you mean tracing.filters.actor_patterns?
	// tracing: invalid config: testdata/typo.toml:9: unknown key tracing.retry.max_retry: did you mean tracing.retry.max_retries?
}

// The environment is layered over a file; a malformed variable is named
// with its value.
func ExampleApplyEnv() {
	cfg, err := config.Load("testdata/reflow_docs.toml")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.Setenv("REFLOW_TRACING_BATCH_SIZE", "abc"); err != nil { // as a shell would
		log.Fatal(err)
	}
	defer os.Unsetenv("REFLOW_TRACING_BATCH_SIZE")
	_, err = config.ApplyEnv(cfg)
	fmt.Println(err)
	// Output:
	// tracing: invalid config: REFLOW_TRACING_BATCH_SIZE="abc": want an integer
}
