// Package otlp exports reflowtrace events as OpenTelemetry spans over OTLP
// (HTTP or gRPC) to any OpenTelemetry Collector, Jaeger, Tempo, Honeycomb,
// …, and publishes a client's self-metrics as OpenTelemetry metrics.
//
// It is a module of its own, github.com/reflowtrace/reflowtrace-go/sink/otlp,
// so that the OpenTelemetry dependencies stay out of the core module.
//
//	sink, err := otlp.New(ctx, otlp.WithProtocol(otlp.ProtocolGRPC),
//		otlp.WithEndpoint("collector:4317"), otlp.WithInsecure())
//	client, err := tracing.New(cfg, tracing.WithSink(sink))
//
// The sink is built on go.opentelemetry.io/otel's OTLP trace exporters
// (otlptracehttp, otlptracegrpc): endpoints, TLS, headers, compression,
// retries and the OTEL_EXPORTER_OTLP_* environment variables work as they
// document. It hands the exporter finished spans directly, not through a
// TracerProvider, so the span ids, parents and timestamps are the events'
// own.
//
// # Mapping
//
// The mapping follows Reflow's own OTLP export (reflow_tracing's otlp
// module): one OpenTelemetry trace per reflowtrace trace, one root span per
// trace, one child span per event, parented by causality.
//
//	reflowtrace                         OpenTelemetry
//	----------------------------------  ----------------------------------------------
//	TraceID (16 bytes)                  trace id, the same 16 bytes (TraceIDOf)
//	a zero TraceID                      a trace id the Sink draws once at New
//	trace (FlowTrace)                   root span "flow:<flow id>" (no parent),
//	                                    span id RootSpanIDOf(TraceID);
//	                                    start StartTime, end EndTime
//	  FlowID, ExecutionID, Version      reflow.flow_id, reflow.execution_id,
//	                                    reflow.flow_version ("1.2.3"),
//	                                    reflow.flow_version.git_hash
//	  Status                            reflow.status ("Completed", "Failed(msg)", …);
//	                                    span status Ok for Completed, Error (msg)
//	                                    for Failed, Unset otherwise
//	  Metadata                          reflow.environment, reflow.hostname,
//	                                    reflow.process_id, reflow.user_id,
//	                                    reflow.session_id, reflow.tag.<key>
//	  TraceID                           reflow.trace_id (hyphenated UUID)
//	trace the Sink was never told of    root span "trace:<uuid>", reflow.trace_id only
//	trace this process joined (header   no root span: the process that started the
//	  tagged wire.TagJoined)            trace exports it; events still parent to
//	                                    RootSpanIDOf(TraceID) when they have no cause
//	TraceEvent                          span, kind Internal
//	  EventID                           span id SpanIDOf(EventID): its last 8 bytes,
//	                                    the default span_id Reflow stores;
//	                                    reflow.event_id (hyphenated UUID)
//	  Causality.ParentEventID           parent span SpanIDOf(ParentEventID);
//	                                    none: the trace's root span
//	  Timestamp,                        ActorCompleted, ActorFailed (stamped when the
//	  PerformanceMetrics.ExecutionTimeNs run ends): start = Timestamp - ExecutionTimeNs,
//	                                    end = Timestamp; other kinds (stamped when
//	                                    the work starts): start = Timestamp,
//	                                    end = Timestamp + ExecutionTimeNs; not
//	                                    measured or 0: start = end = Timestamp
//	  Type                              span name "<Kind>:<actor>" ("Custom(name):actor"),
//	                                    "dataflow:<from>-><to>" for DataFlow;
//	                                    reflow.event_type (the kind's name),
//	                                    reflow.to_actor, reflow.to_port (DataFlow),
//	                                    reflow.custom_name (Custom)
//	  ActorID                           reflow.actor_id
//	  Data.Port                         reflow.port (when set)
//	  Data.Message                      reflow.message.type, reflow.message.size_bytes
//	                                    (int), reflow.message.checksum (when set)
//	  Data.StateDiff                    reflow.state.diff_type (when set)
//	  Data.Error / kind ActorFailed     span status Error, description Data.Error;
//	                                    reflow.error
//	  other PerformanceMetrics          reflow.memory_usage_bytes,
//	                                    reflow.cpu_usage_percent, reflow.queue_depth,
//	                                    reflow.throughput_msgs_per_sec (measured, non-zero)
//	  Data.CustomAttributes             reflow.attr.<key>: string, bool, int, float;
//	                                    arrays and objects as text; null left out
//	  Causality.RootCauseEventID        reflow.root_cause_event_id (when not the event)
//	  Causality.SpanID                  reflow.span_id (when set and not the span id)
//	  the trace's flow and execution    reflow.flow_id, reflow.execution_id (when known)
//	every span                          resource service.name (WithServiceName,
//	                                    default "reflowtrace") merged with
//	                                    WithResource; scope ScopeName
//
// Where it differs from Reflow's export, on purpose: span ids come from the
// last 8 bytes of the ids, not the first (the first 8 bytes of a UUIDv7 are
// its timestamp, the same for ids made within 244 ns of each other); the
// root span's id comes from the trace id, not the execution id, so that
// every event's parent is known from the event alone (it is
// tracing.TraceID.RootSpanID, which package propagation also writes into
// traceparent for a context without a cause, so that spans of
// OpenTelemetry services called there are children of the root); sizes
// are integer attributes, not strings; the kinds Reflow lacks (Custom)
// keep their name.
//
// # Delivery
//
// Selection (filters, sampling, redaction) and batching are the client's,
// as for every sink. Write exports its batch before it returns; an export
// that returned nil counts its events as acknowledged (SinkStats), one that
// failed, after the exporter's own retries, fails the Write, and the client
// counts the batch as dropped (WriteError). A root span is exported with
// the first Write or Flush after its trace ended; the roots of traces that
// never ended go out at Close, with reflow.status "Running".
//
// A trace recorded by several processes (see package
// tracing/propagation) gets one root span, from the process that started
// it: a client that records into a trace it did not start joins it, and
// its header, tagged wire.TagJoined, tells the Sink not to export that
// trace's root. The joining process's events are parented as everywhere
// else: to their cause, which may be an event of the other process, or to
// the trace's root span.
//
// # Parents that were not exported
//
// An event the client did not deliver (sampled out, filtered by a
// predicate, dropped from a full queue or with a failed Write) still has
// an id, and the events recorded with it as cause name it as their
// parent, but its span is never exported: in Jaeger their spans point to
// a parent that does not exist. The Sink does not re-parent them to their
// nearest exported ancestor (Causality.DependencyChain), because it cannot
// tell a parent that will never come from one that comes in a later Write
// (the client hands critical events over before routine ones, and
// SendMiddleware records a send's DataFlow when the send returns, which
// can be after the receiver's events it caused) or that another process
// exports; a wrong parent would look right, where a missing one is at
// least shown as missing. To keep every parent, sample whole traces:
// TracingConfig.Sampling with PerTrace and "percentage" or "every_nth", at
// the same rate in every process. Sampling events one by one orphans every
// event whose parent it dropped, critical ones (never sampled out
// themselves) included.
//
// The OTLP exporters report a collector's partial success (some spans
// rejected) to the global OpenTelemetry error handler only, not to the
// caller: such spans still count as acknowledged.
//
// # Self-metrics
//
// RegisterMetrics publishes a client's Metrics and Healthy as observable
// OpenTelemetry instruments on a MeterProvider; WithMeterProvider adds a
// histogram of the sink's export durations.
//
// # Propagation
//
// Propagator(propagation.TraceContext{...}) is package tracing/propagation's
// propagator as an OpenTelemetry TextMapPropagator, for
// otel.SetTextMapPropagator and instrumentation such as otelhttp: the
// traceparent it writes names the spans this Sink exports, so the spans of
// OpenTelemetry services called with it join the trace under the right
// parent.
//
// # Concurrency
//
// A Sink is safe for concurrent use: the client calls Write from one
// goroutine and ObserveTrace, Flush, Close and SinkStats from others.
//
// # Shutdown
//
// Close exports the root spans still waiting, then shuts the exporter down
// under ctx. Closing the client closes the sink.
package otlp
