// Package config loads a [tracing.TracingConfig] the way Reflow's
// documentation describes: from a tracing.toml file ([Load]), from the
// REFLOW_TRACING_* environment variables ([FromEnv], Reflow's
// TracingConfig::from_env), or both, layered file < environment < code
// ([LoadWithEnv], or [ApplyEnv] over a config of your own):
//
//	cfg, err := config.LoadWithEnv("tracing.toml")
//	if err != nil {
//		log.Fatal(err)
//	}
//	cfg.BatchSize = 100 // code wins
//	client, err := tracing.New(cfg, tracing.WithSink(s))
//
// Every key of the file has an environment variable of the same meaning,
// and each sets one field of the TracingConfig, whose documentation says
// what it does and its default. Durations are whole milliseconds, rates
// are fractions in [0, 1] (where Reflow's SamplingStrategy takes
// percent), event kinds are the protocol's names: ActorCreated,
// ActorStarted, ActorCompleted, ActorFailed, MessageSent, MessageReceived,
// StateChanged, PortConnected, PortDisconnected, DataFlow, NetworkEvent,
// Custom. max_retries follows RetryConfig.MaxRetries: 0 is the default (5
// retries), "none" never retries, "unlimited" (or a negative number)
// retries until the retry policy's time limit. Reflow's own client reads
// 0 as no retries: the loaders warn about a 0 written in a file or the
// environment, as they do for a backoff_multiplier or degrade_fill of 0,
// which also mean the default. NaN and infinities are refused.
//
// # The tracing.toml file
//
// A tracing.toml written for Reflow loads as it is (but for
// max_retries = 0, see above). Every key:
//
//	[tracing]
//	enabled = true
//	server_url = "ws://localhost:8080"
//	server_urls = ["wss://standby:8443"] # servers to fail over to
//	batch_size = 50
//	batch_timeout_ms = 1000
//	enable_compression = true        # binary frames, zstd unless set below
//	# This SDK's additions (all optional):
//	adaptive_batching = true         # batch size, timeout and window follow the link
//	min_batch_size = 64              # bounds of adaptive batching
//	max_batch_size = 4096
//	degrade_fill = 0.5               # in an outage past this buffer fill, only critical events; or "off"
//	compression_algorithm = "zstd"   # the server's: "lz4", "gzip", "brotli", "auto" or "none"
//	protocol = "auto"                # or "v1", "v2"
//	queue_size = 8192                # at most 1048576 (1 GiB of slots)
//	queue_policy = "drop"            # or "drop_newest" (the same), "block"
//	critical_kinds = ["ActorFailed"] # default: the actor lifecycle kinds
//	flow_id = "orders"
//	environment = "production"
//	system_metrics_interval_ms = 0
//	health_threshold_ms = 30000
//
//	[tracing.tags]
//	region = "eu-west-1"
//
//	[tracing.retry]
//	max_retries = 3                  # 0: the default (5); "none"; "unlimited"
//	initial_delay_ms = 500
//	max_delay_ms = 5000
//	backoff_multiplier = 2.0
//
//	[tracing.filters]
//	actor_patterns = ["sensor_*", "processor_*"]
//	exclude_actors = ["debug_*", "test_*"]
//	event_types = ["ActorCreated", "DataFlow", "ActorFailed"]
//
//	[tracing.sampling]
//	strategy = "adaptive"   # "always" (default), "percentage", "every_nth"
//	rate = 0.1              # percentage's rate, adaptive's base rate
//	n = 10                  # every_nth
//	max_rate = 1.0
//	load_threshold = 0.8
//	per_trace = true
//
//	[tracing.privacy]
//	capture_content = false
//	drop_attributes = ["secret_*"]
//	anonymize_actors = true
//	anonymize_attributes = ["user_*"]
//	anonymize_key = "…"
//	checksums = "when_captured"      # or "off", "on_record" (see tracing.ChecksumMode)
//
// Other top-level tables are ignored, so the [tracing] table may live in
// a larger application file, but the file must have one.
//
// # Environment variables
//
// Booleans are true/false, 1/0, yes/no or on/off (any case); lists are
// comma-separated, blanks around items ignored; a list or tags variable
// replaces the whole list or map. A variable set to "" is ignored.
// Reflow's variables come first; the others are this SDK's:
//
//	Variable                                   Field                         Type
//	REFLOW_TRACING_ENABLED                     Enabled                       bool
//	REFLOW_TRACING_SERVER_URL                  ServerURL                     ws:// or wss:// URL
//	REFLOW_TRACING_SERVER_URLS                 ServerURLs                    comma-separated URLs
//	REFLOW_TRACING_BATCH_SIZE                  BatchSize                     integer
//	REFLOW_TRACING_BATCH_TIMEOUT_MS            BatchTimeout                  milliseconds
//	REFLOW_TRACING_ADAPTIVE_BATCHING           AdaptiveBatching              bool
//	REFLOW_TRACING_MIN_BATCH_SIZE              MinBatchSize                  integer
//	REFLOW_TRACING_MAX_BATCH_SIZE              MaxBatchSize                  integer
//	REFLOW_TRACING_DEGRADE_FILL                DegradeFill                   number in (0, 1] or "off" (-1)
//	REFLOW_TRACING_COMPRESSION                 EnableCompression             bool
//	REFLOW_TRACING_MAX_RETRIES                 Retry.MaxRetries              integer, "none" or "unlimited"
//	REFLOW_TRACING_INITIAL_DELAY_MS            Retry.InitialDelay            milliseconds
//	REFLOW_TRACING_MAX_DELAY_MS                Retry.MaxDelay                milliseconds
//	REFLOW_TRACING_BACKOFF_MULTIPLIER          Retry.BackoffMultiplier       number >= 1
//	REFLOW_TRACING_COMPRESSION_ALGORITHM       CompressionAlgorithm          zstd, lz4, gzip, brotli, auto or none
//	REFLOW_TRACING_PROTOCOL                    Protocol                      auto, v1 or v2
//	REFLOW_TRACING_QUEUE_SIZE                  QueueSize                     integer
//	REFLOW_TRACING_QUEUE_POLICY                QueuePolicy                   "drop" or "block"
//	REFLOW_TRACING_CRITICAL_KINDS              CriticalKinds                 list of event kinds
//	REFLOW_TRACING_FLOW_ID                     FlowID                        string
//	REFLOW_TRACING_ENVIRONMENT                 Environment                   string
//	REFLOW_TRACING_TAGS                        Tags                          list of key=value
//	REFLOW_TRACING_SYSTEM_METRICS_INTERVAL_MS  SystemMetricsInterval         milliseconds
//	REFLOW_TRACING_HEALTH_THRESHOLD_MS         HealthThreshold               milliseconds
//	REFLOW_TRACING_ACTOR_PATTERNS              Filters.ActorPatterns         list of globs
//	REFLOW_TRACING_EXCLUDE_ACTORS              Filters.ExcludeActors         list of globs
//	REFLOW_TRACING_EVENT_TYPES                 Filters.EventTypes            list of event kinds
//	REFLOW_TRACING_SAMPLING_STRATEGY           Sampling.Strategy             always, percentage, every_nth, adaptive
//	REFLOW_TRACING_SAMPLING_RATE               Sampling.Rate                 number in [0, 1]
//	REFLOW_TRACING_SAMPLING_N                  Sampling.N                    integer >= 1
//	REFLOW_TRACING_SAMPLING_MAX_RATE           Sampling.MaxRate              number in [0, 1]
//	REFLOW_TRACING_SAMPLING_LOAD_THRESHOLD     Sampling.LoadThreshold        number in (0, 1]
//	REFLOW_TRACING_SAMPLING_PER_TRACE          Sampling.PerTrace             bool
//	REFLOW_TRACING_CAPTURE_CONTENT             Privacy.CaptureContent        bool
//	REFLOW_TRACING_DROP_ATTRIBUTES             Privacy.DropAttributes        list of globs
//	REFLOW_TRACING_ANONYMIZE_ACTORS            Privacy.AnonymizeActors       bool
//	REFLOW_TRACING_ANONYMIZE_ATTRIBUTES        Privacy.AnonymizeAttributes   list of globs
//	REFLOW_TRACING_ANONYMIZE_KEY               Privacy.AnonymizeKey          string (secret)
//	REFLOW_TRACING_CHECKSUMS                   Privacy.Checksums             when_captured, off or on_record
//
// # Mistakes
//
// A mistake is never silent, and never replaced by a default. Every
// problem of a file, or of the environment, or of both for LoadWithEnv,
// is reported in one error wrapping tracing.ErrInvalidConfig
// (errors.Join of one error per problem), each naming the setting as it
// is written (the file and line and the key, or the variable), the value
// and what is wanted:
//
//	tracing: invalid config: tracing.toml:3: tracing.batch_size = "abc": want an integer
//	tracing: invalid config: tracing.toml:7: unknown key tracing.retry.max_retry: did you mean tracing.retry.max_retries?
//	tracing: invalid config: tracing.toml:9: tracing.queue_size = 10: must be at least tracing.batch_size (50)
//	tracing: invalid config: REFLOW_TRACING_BATCH_SIZE="abc": want an integer
//
// That is: a value of the wrong type or out of range; a table of the
// wrong type; a key that names no setting, with the nearest known key;
// and what TracingConfig.Validate rejects in the values loaded. A file
// that is not valid TOML gives one error (the first syntax error, with its
// line); one that cannot be read an error wrapping the fs error. A
// REFLOW_TRACING_* variable that names no setting is not an error, since
// the environment is shared with other programs, but a warning naming the
// nearest known variable. The anonymize_key, and the password of a
// server URL, are never shown.
//
// A loaded config records in TracingConfig.Source where each setting
// came from. While a field holds what was loaded, TracingConfig.Validate,
// TracingConfig.Warnings (the loaders' warnings, and settings other
// settings make meaningless) and what tracing.New logs name it as written,
// as above; a field changed in code since is named by its Go path
// (QueueSize = 10: must be at least tracing.batch_size (50)).
//
// # Concurrency
//
// The functions are safe for concurrent use: they read the file and the
// environment, and change nothing.
package config
