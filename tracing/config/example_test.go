package config_test

import (
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/tracing/config"
)

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
