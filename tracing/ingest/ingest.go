// Package ingest feeds Reflow TraceEvent JSON, written by a Reflow runtime
// or any other producer, through a TracingClient: the events then go
// through the same selection, batching, delivery and sinks as events the
// client records.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// MaxEventBytes is the largest event JSON Read decodes; a larger
// one is rejected (and skipped) without being held in memory.
const MaxEventBytes = 16 << 20

// MaxRejects is the most rejected inputs Stats details; the
// others are counted only.
const MaxRejects = 100

// Stats is what Read read.
type Stats struct {
	// Events counts the events decoded and recorded: the client then
	// selects, batches and delivers them as any recorded event (and
	// counts them in Metrics).
	Events int
	// QueueFull counts the decoded events the queue had no room for under
	// the DropNewest policy (also counted in Metrics): use the Block
	// policy (TracingConfig.QueuePolicy) to make Read wait instead.
	QueueFull int
	// Rejected counts the inputs that are not a well-formed TraceEvent.
	Rejected int
	// Rejects details the first MaxRejects of them, in input order.
	Rejects []*Error
}

// Error is one input Read rejected: where it starts and why. It
// wraps tracing.ErrMalformed.
type Error struct {
	// Line is the 1-based line the input starts on; Offset is its byte
	// offset from the start of the reader.
	Line   int
	Offset int64
	// Err is the reason, wrapping tracing.ErrMalformed.
	Err error
}

// Error returns "ingest: line L (offset O): reason".
func (e *Error) Error() string {
	return fmt.Sprintf("ingest: line %d (offset %d): %v", e.Line, e.Offset, e.Err)
}

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Err }

// Read reads Reflow TraceEvent JSON from r and records every event in it
// with c, so that events produced by a Reflow runtime go through the same
// selection, batching, delivery (acknowledgement, spool) and sinks as
// events recorded with the client. r may hold one event, a JSON array of
// events, a stream of events (JSON Lines, or values one after another,
// pretty-printed or not), or any mix; both server generations' forms are
// read (null or absent metrics, span ids, …), by the same decoder as
// wire.Unmarshal.
//
// The events keep their ids, timestamps and causality; they join the trace
// ctx carries (see TracingClient.StartTrace), or else the client's implicit trace, and
// take no cause from ctx. Under the Block queue policy Read waits for
// room in the queue (as RecordWait does); under DropNewest what does not
// fit is counted in QueueFull.
//
// Input that is not a well-formed event (malformed JSON, a value that is
// not an event object, a truncated line, an event larger than
// MaxEventBytes) is rejected and counted, with its line, offset and
// reason, and reading carries on with the next value: a torn or corrupt
// line loses nothing around it. While a value is unterminated, a line
// that starts with anything but whitespace, ',' or a closing bracket
// starts a new value (pretty-printed JSON indents what continues one).
//
// Rejections are not errors: the error is non-nil only when reading r fails, ctx ends (the error wraps
// ctx's error) or the client is closed (it wraps tracing.ErrClosed); the stats
// then count what was ingested so far. A disabled client decodes and
// counts but records nothing. Safe for concurrent use.
func Read(ctx context.Context, c *tracing.TracingClient, r io.Reader) (Stats, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	in := ingester{c: c, ctx: ctx, rctx: tracing.ContextWithoutCause(ctx), line: 1}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if in.err != nil {
				return in.stats, in.err
			}
			in.byte(b)
		}
		if in.err != nil {
			return in.stats, in.err
		}
		if errors.Is(err, io.EOF) {
			in.eof()
			return in.stats, in.err
		}
		if err != nil {
			in.eof()
			return in.stats, errors.Join(in.err, fmt.Errorf("ingest: read: %w", err))
		}
		if err := ctx.Err(); err != nil {
			return in.stats, fmt.Errorf("ingest: %w", err)
		}
	}
}

// ingester splits its input into values byte by byte, tracking strings and
// nesting, and decodes every object at the top level or directly inside a
// top-level array.
type ingester struct {
	c     *tracing.TracingClient
	ctx   context.Context // the caller's
	rctx  context.Context // for recording: the trace, no cause
	stats Stats
	err   error // the error that stops Ingest

	line      int   // current line, 1-based
	off       int64 // offset of the current byte
	lineStart bool  // the current byte starts a line

	array bool // inside a top-level array
	depth int  // nesting, the top-level array included

	unit    bool // a value is pending in buf
	garbage bool // the pending value is not an object; it ends with the line
	tooLong bool // the pending value outgrew MaxEventBytes
	inStr   bool
	esc     bool
	buf     []byte
	uLine   int
	uOff    int64
}

func (in *ingester) byte(b byte) {
	in.lineStart = in.off == 0 || in.lineStart
	in.step(b)
	in.lineStart = b == '\n'
	if b == '\n' {
		in.line++
	}
	in.off++
}

func (in *ingester) base() int {
	if in.array {
		return 1
	}
	return 0
}

func (in *ingester) step(b byte) {
	if in.unit && !in.garbage && in.lineStart && !isSpace(b) && b != '}' && b != ']' && b != ',' {
		// A line that starts with neither indentation nor a closing
		// bracket while a value is unterminated: the value was torn (a
		// crash mid-line); resynchronize here.
		in.reject(fmt.Errorf("%w: truncated value", tracing.ErrMalformed))
	}
	if !in.unit {
		switch {
		case isSpace(b), b == ',':
			return
		case in.array && b == ']':
			in.array, in.depth = false, 0
			return
		case !in.array && b == '[':
			in.array, in.depth = true, 1
			return
		}
		in.unit, in.garbage, in.tooLong = true, b != '{', false
		in.inStr, in.esc = false, false
		in.buf = in.buf[:0]
		in.uLine, in.uOff = in.line, in.off
	}
	if in.garbage {
		in.skip(b)
		return
	}
	if !in.tooLong {
		if len(in.buf) >= MaxEventBytes {
			in.tooLong = true
			in.buf = in.buf[:0]
		} else {
			in.buf = append(in.buf, b)
		}
	}
	if in.inStr {
		in.stringByte(b)
		return
	}
	switch b {
	case '"':
		in.inStr = true
	case '{', '[':
		in.depth++
	case '}', ']':
		in.depth--
	}
	if in.depth == in.base() {
		in.complete()
	}
}

// stringByte steps over b inside a JSON string: an escape, what it
// escapes, or the closing quote.
func (in *ingester) stringByte(b byte) {
	switch {
	case in.esc:
		in.esc = false
	case b == '\\':
		in.esc = true
	case b == '"':
		in.inStr = false
	}
}

// skip steps over a value that is not an object: it ends with its line
// or, in an array, with its element, at the first ',' or ']' outside its
// strings and brackets, so that a string or a nested array holding them
// does not end it early and take the next elements with it.
func (in *ingester) skip(b byte) {
	if in.inStr && b != '\n' { // a JSON string holds no raw newline
		in.stringByte(b)
		return
	}
	switch b {
	case '"':
		in.inStr = true
		return
	case '{', '[':
		in.depth++
		return
	case '}', ']':
		if in.depth > in.base() {
			in.depth--
			return
		}
	}
	if b == '\n' || (in.array && in.depth == in.base() && (b == ',' || b == ']')) {
		in.reject(fmt.Errorf("%w: expected a TraceEvent object or an array of them", tracing.ErrMalformed))
		if b == ']' {
			in.array, in.depth = false, 0
		}
	}
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// complete decodes and records the pending value.
func (in *ingester) complete() {
	if in.tooLong {
		in.reject(fmt.Errorf("%w: event larger than %d bytes", tracing.ErrMalformed, MaxEventBytes))
		return
	}
	var ev tracing.TraceEvent
	if err := wire.Unmarshal(in.buf, &ev); err != nil {
		in.reject(err)
		return
	}
	in.unit = false
	in.record(&ev)
}

func (in *ingester) record(ev *tracing.TraceEvent) {
	err := in.c.RecordWait(in.rctx, *ev)
	switch {
	case err == nil:
		in.stats.Events++
	case errors.Is(err, tracing.ErrQueueFull):
		in.stats.QueueFull++
	case errors.Is(err, tracing.ErrClosed):
		in.err = fmt.Errorf("ingest: %w", tracing.ErrClosed)
	default:
		in.err = fmt.Errorf("ingest: %w", err)
	}
}

// reject counts the pending value as rejected for err and drops it.
func (in *ingester) reject(err error) {
	in.stats.Rejected++
	if len(in.stats.Rejects) < MaxRejects {
		in.stats.Rejects = append(in.stats.Rejects, &Error{Line: in.uLine, Offset: in.uOff, Err: err})
	}
	in.unit, in.garbage, in.tooLong, in.inStr, in.esc = false, false, false, false, false
	in.depth = in.base()
	in.buf = in.buf[:0]
}

// eof rejects what is pending at the end of the input.
func (in *ingester) eof() {
	if !in.unit {
		return
	}
	if in.garbage {
		in.reject(fmt.Errorf("%w: expected a TraceEvent object or an array of them", tracing.ErrMalformed))
		return
	}
	in.reject(fmt.Errorf("%w: truncated value: unexpected end of input", tracing.ErrMalformed))
}
