package tracetest

// What the reference server does with odd input, at the transport and
// message level: each test cites its source in offbit-ai/reflow.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// rawWS is a minimal WebSocket client on a bare TCP connection, to send
// frames the library clients will not (a fragmented message, a lone close
// frame) and to see exactly what the server sends back. It starts no
// goroutine.
type rawWS struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func rawDial(t *testing.T, ctx context.Context, s *Server) *rawWS {
	t.Helper()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET / HTTP/1.1\r\nHost: " + s.Addr() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatalf("handshake write: %v", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake read: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", resp.StatusCode)
	}
	return &rawWS{t: t, nc: nc, br: br}
}

// frame writes one masked frame.
func (r *rawWS) frame(fin bool, opcode byte, payload []byte) {
	r.t.Helper()
	var h []byte
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	h = append(h, b0)
	switch n := len(payload); {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n < 1<<16:
		h = append(h, 0x80|126, byte(n>>8), byte(n))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	mask := [4]byte{1, 2, 3, 4}
	h = append(h, mask[:]...)
	p := make([]byte, len(payload))
	for i := range payload {
		p[i] = payload[i] ^ mask[i%4]
	}
	if _, err := r.nc.Write(append(h, p...)); err != nil {
		r.t.Fatalf("write frame: %v", err)
	}
}

// next reads one frame: its opcode and payload; err is the read error
// (io.EOF when the server closed the TCP connection without a frame).
func (r *rawWS) next() (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r.br, p); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, p, nil
}

// metricsOf asks GetMetrics on c.
func metricsOf(t *testing.T, c *client) map[string]uint64 {
	t.Helper()
	m, ok := c.roundTrip(wire.GetMetrics{}).(wire.Metrics)
	if !ok {
		t.Fatalf("GetMetrics: %#v", m)
	}
	var out map[string]uint64
	if err := json.Unmarshal(m.Data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNonJSONWhitespaceIsInvalid: the reference reads a text frame
// with serde_json::from_str (crates/reflow_tracing/src/server.rs:197 and
// :210), whose only whitespace is space, \t, \n and \r (RFC 8259 §2); a
// message with a form feed, vertical tab, NBSP or NEL around it parses as
// neither a TracingRequest nor a TraceMessage and gets
// {"Error":{"message":"Invalid message format"}} (server.rs:222-224).
func TestNonJSONWhitespaceIsInvalid(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		c := dial(t, ctx, start(t, ctx, WithGeneration(g)), nil)
		for _, msg := range []string{"\f\"Ping\"", "\v\"Ping\"", "\u00a0\"Ping\"", "\"Ping\"\u0085"} {
			if got := c.rawRoundTrip(msg); got != invalidReply {
				t.Errorf("reply to %q: %s, want %s (serde_json rejects non-JSON whitespace)", msg, got, invalidReply)
			}
		}
	})
}

// TestUndecodableBinaryFrameIsNotAMessageReceived: messages_received
// is counted in handle_message (server.rs:190-194), which a binary frame
// reaches only once decompressed and read as UTF-8 (server.rs:239-248); a
// frame that does not decompress ends the connection first
// (server.rs:685-687) and is not counted.
func TestUndecodableBinaryFrameIsNotAMessageReceived(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx, WithCompression(transport.CompressionZstd))
	bad := dial(t, ctx, s, nil)
	if err := bad.c.Write(ctx, 2 /* binary */, []byte("not zstd")); err != nil {
		t.Fatal(err)
	}
	bad.expectDropped()
	if got := metricsOf(t, dial(t, ctx, s, nil))["messages_received"]; got != 1 {
		t.Fatalf("messages_received %d, want 1 (the GetMetrics itself): the reference counts a message in handle_message, which an undecodable binary frame never reaches", got)
	}
}

// TestInvalidUTF8TextFrameDropsConnection: the reference's
// WebSocket library (tungstenite 0.27) checks that a text message is
// UTF-8 before the server sees it (it hands the server
// Message::Text(Utf8Bytes), server.rs:676); an invalid one is a read
// error, on which the server leaves its read loop (server.rs:718-721)
// without a reply.
func TestInvalidUTF8TextFrameDropsConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(testCtx(t), 5*time.Second)
	defer cancel()
	s := start(t, ctx)
	r := rawDial(t, ctx, s)
	r.frame(true, 0x1, []byte("\"Pi\xffng\""))
	op, p, err := r.next()
	if err == nil && (op == 0x1 || op == 0x2) {
		t.Fatalf("server answered an invalid UTF-8 text frame with %q, want no reply and the connection ended (tungstenite rejects it; server.rs:718-721)", p)
	}
}

// TestGen1StartTraceDuplicateField: serde's derived Deserialize
// rejects a duplicate field (protocol lib.rs:44-47, StartTrace{flow_id,
// version}), so the reference answers "Invalid message format"
// (server.rs:197, :210, :222-224) for a StartTrace that names flow_id
// twice, with or without a trace_id (which generation 1 ignores).
func TestGen1StartTraceDuplicateField(t *testing.T) {
	ctx := testCtx(t)
	c := dial(t, ctx, start(t, ctx), nil)
	msg := `{"StartTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e61","flow_id":"a","flow_id":"b",` +
		`"version":{"major":1,"minor":2,"patch":3,"git_hash":null,"timestamp":"2026-12-01T10:00:00Z"}}}`
	if got := c.rawRoundTrip(msg); got != invalidReply {
		t.Fatalf("reply to %s: %s, want %s (serde: duplicate field `flow_id`)", msg, got, invalidReply)
	}
}
