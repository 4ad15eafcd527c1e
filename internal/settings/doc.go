// Package settings names the fields of a loaded configuration as the user
// wrote them, for the messages about it: by file, line and key
// ("t.toml:3: tracing.batch_size = 0"), by environment variable
// (BATCH_SIZE="0"), or by Go field path ("BatchSize = 0") for a field the
// loader did not know or a configuration built in code. A Source, which the
// loader provides, says how each field was written; Names asks it about the
// fields of one configuration struct, found by reflection.
package settings
