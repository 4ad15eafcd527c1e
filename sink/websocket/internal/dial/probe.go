package dial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	cws "github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// ProbeProtocol asks c's server for its protocol generation with a
// GetTrace that reads nothing and changes nothing: a generation-2 server
// echoes its request id, a generation-1 server does not. It must read c
// before anything else does; binary replies are decoded with detect. It
// waits at most timeout for the answer, skipping pushed
// EventNotifications, and returns an error when c fails or no answer
// comes (the generation is then ProtocolV1, which every server reads).
// An error reply is neither generation's answer, but a server failing
// for the moment: the probe is sent again, up to ProbeAttempts times in
// all, and then fails.
func ProbeProtocol(ctx context.Context, c *cws.Conn, detect *compress.Detect, timeout time.Duration) (transport.Protocol, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var enc wire.Encoder
	for attempt := 1; ; attempt++ {
		rid := wire.NewRequestID()
		if err := c.Write(ctx, cws.MessageText, enc.AppendRequest(nil, wire.GetTrace{RequestID: rid})); err != nil {
			return transport.ProtocolV1, fmt.Errorf("probe: %w", err)
		}
		gen, err := probeReply(ctx, c, detect, rid, timeout)
		var se *wire.ServerError
		if !errors.As(err, &se) {
			return gen, err
		}
		if attempt == ProbeAttempts {
			return transport.ProtocolV1, fmt.Errorf("probe: %d probes answered with an error, the last: %w", attempt, err)
		}
	}
}

// ProbeAttempts is how many probes ProbeProtocol sends on a connection
// whose server answers each with an error.
const ProbeAttempts = 3

// probeReply reads the answer to the probe with request id rid (see
// ProbeProtocol); an error reply is returned as a *wire.ServerError.
func probeReply(ctx context.Context, c *cws.Conn, detect *compress.Detect, rid wire.RequestID, timeout time.Duration) (transport.Protocol, error) {
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			// A read that times out closes the connection: a server that
			// does not answer is redialed after a backoff.
			return transport.ProtocolV1, fmt.Errorf("probe: no reply within %v: %w", timeout, err)
		}
		if typ == cws.MessageBinary {
			if data, _, err = detect.DecodeReply(nil, data); err != nil {
				return transport.ProtocolV1, fmt.Errorf("probe: undecodable compressed reply: %w", err)
			}
		}
		resp, err := wire.DecodeResponse(data)
		if err != nil {
			return transport.ProtocolV1, fmt.Errorf("probe: undecodable reply: %w", err)
		}
		switch r := resp.(type) {
		case wire.EventNotification:
			continue
		case wire.ErrorResponse:
			return transport.ProtocolV1, r.Err()
		case wire.TraceData:
			if r.RequestID == rid {
				return transport.ProtocolV2, nil
			}
		}
		return transport.ProtocolV1, nil
	}
}

// PingCompressed sends c's server a "Ping" compressed with alg, as a
// binary frame: a server configured with alg answers "Pong", any other
// drops the connection. It waits at most timeout, skipping pushed
// EventNotifications, and reports whether the Pong came; when it did not,
// err says why (nil for another answer) and wraps
// context.DeadlineExceeded when nothing came in time.
func PingCompressed(ctx context.Context, c *cws.Conn, alg compress.Algorithm, timeout time.Duration) (pong bool, err error) {
	codec, err := compress.NewCodec(alg)
	if err != nil {
		return false, fmt.Errorf("compression probe: %w", err)
	}
	ping, err := codec.AppendRequest(nil, []byte(`"Ping"`))
	if err != nil {
		return false, fmt.Errorf("compression probe: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = c.Write(ctx, cws.MessageBinary, ping)
	var data []byte
	if err == nil {
		for {
			var typ cws.MessageType
			typ, data, err = c.Read(ctx)
			if err != nil || typ == cws.MessageText && !bytes.HasPrefix(data, []byte(`{"EventNotification"`)) {
				break
			}
		}
	}
	switch {
	case err == nil && string(data) == `"Pong"`:
		return true, nil
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		return false, fmt.Errorf("compression probe: no reply within %v: %w", timeout, err)
	}
	return false, err
}
