package websocket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// The memory measurements run the test server in a process of its own,
// so that what the runtime reports for the test process is the sink's
// heap. The test binary starts itself again with memServerEnv set;
// TestMain then runs runMemServer instead of the tests. The two talk over
// the child's stdin and stdout, one line per command and reply.

// memServerEnv names the environment variable that makes the test binary
// a test server; its value is the generation ("1" or "2"), optionally
// followed by a colon and the compression algorithm's number.
const memServerEnv = "REFLOWTRACE_SINK_MEMSERVER"

// runMemServer serves a fast-scanning tracetest server until stdin ends,
// printing its URL first, then obeying one command per line:
//
//	delay D     every reply waits D (a slow server)
//	cut N       from every connection, reply to N messages, persist the
//	            next one and drop the connection (0 stops)
//	stop        close the listener and every connection
//	restart     listen again on the same address
//	kept        print "kept DISTINCT DUPLICATES": event ids kept once or
//	            more, and those kept more than once
//
// Each command is answered with one line ("ok", or "error ..."). It
// returns the process's exit code.
func runMemServer(arg string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gen, alg, compressed := strings.Cut(arg, ":")
	opts := []tracetest.Option{tracetest.WithFastScan(true), tracetest.WithGeneration(tracetest.Gen1)}
	if gen == "2" {
		opts = append(opts, tracetest.WithGeneration(tracetest.Gen2))
	}
	if compressed {
		a, err := strconv.Atoi(alg)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		opts = append(opts, tracetest.WithCompression(transport.CompressionAlgorithm(a)))
	}
	srv, err := tracetest.Start(ctx, opts...)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer srv.Close()
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		_ = out.Flush()
	}
	say("url %s", srv.URL())
	var cutter sync.WaitGroup
	defer cutter.Wait()
	stopCut := func() {}
	defer func() { stopCut() }()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "delay":
			d, err := time.ParseDuration(arg)
			if err != nil {
				say("error %v", err)
				continue
			}
			srv.SetAckDelay(d)
		case "cut":
			n, err := strconv.Atoi(arg)
			if err != nil {
				say("error %v", err)
				continue
			}
			stopCut()
			stopCut = func() {}
			if n > 0 {
				cctx, ccancel := context.WithCancel(ctx)
				stopCut = func() { ccancel(); cutter.Wait() }
				cutter.Add(1)
				go func() {
					defer cutter.Done()
					cutEvery(cctx, srv, n)
				}()
			}
		case "stop":
			srv.Stop()
		case "restart":
			if err := srv.Restart(ctx); err != nil {
				say("error %v", err)
				continue
			}
		case "kept":
			kept := srv.Kept()
			dups := 0
			for _, k := range kept {
				if k > 1 {
					dups++
				}
			}
			say("kept %d %d", len(kept), dups)
			continue
		default:
			say("error unknown command %q", cmd)
			continue
		}
		say("ok")
	}
	return 0
}

// cutEvery arms the server, on every new connection, to persist the
// (n+1)-th message from then on and drop the connection instead of
// replying to it, until ctx ends.
func cutEvery(ctx context.Context, srv *tracetest.Server, n int) {
	seen := -1
	for {
		var connects int
		err := srv.WaitFor(ctx, func(v tracetest.View) bool {
			connects = v.Connects()
			return connects != seen
		})
		if err != nil {
			return
		}
		seen = connects
		srv.DropBeforeAck(n + 1)
	}
}

// memServer is the test server process, seen from the test.
type memServer struct {
	mu  sync.Mutex // one command at a time
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	url string
}

// startMemServer starts the test server of generation gen in a child
// process, compressing with alg (transport.CompressionNone: not at all),
// and stops it at the end of tb.
func startMemServer(tb testing.TB, gen tracetest.Generation, alg transport.CompressionAlgorithm) *memServer {
	tb.Helper()
	g := "1"
	if gen == tracetest.Gen2 {
		g = "2"
	}
	if alg != transport.CompressionNone {
		g += ":" + strconv.Itoa(int(alg))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), memServerEnv+"="+g)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	m := &memServer{cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	tb.Cleanup(func() {
		_ = m.in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("test server process: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			tb.Errorf("test server process did not exit")
		}
	})
	line, err := m.line()
	if err != nil {
		tb.Fatal(err)
	}
	url, ok := strings.CutPrefix(line, "url ")
	if !ok {
		tb.Fatalf("test server process: %s", line)
	}
	m.url = url
	return m
}

func (m *memServer) line() (string, error) {
	if !m.out.Scan() {
		return "", fmt.Errorf("test server process: no reply: %w", errors.Join(m.out.Err(), io.ErrUnexpectedEOF))
	}
	return m.out.Text(), nil
}

// send sends one command and returns the reply; an error reply is an
// error. Safe for concurrent use.
func (m *memServer) send(cmd string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := fmt.Fprintln(m.in, cmd); err != nil {
		return "", fmt.Errorf("test server process: %s: %w", cmd, err)
	}
	line, err := m.line()
	if err != nil {
		return "", fmt.Errorf("%s: %w", cmd, err)
	}
	if strings.HasPrefix(line, "error") {
		return "", fmt.Errorf("test server process: %s: %s", cmd, line)
	}
	return line, nil
}

// do is send for the test's goroutine: an error fails tb.
func (m *memServer) do(tb testing.TB, cmd string) string {
	tb.Helper()
	line, err := m.send(cmd)
	if err != nil {
		tb.Fatal(err)
	}
	return line
}

// kept returns the distinct event ids the server keeps and those it keeps
// more than once.
func (m *memServer) kept(tb testing.TB) (distinct, dups int) {
	tb.Helper()
	line := m.do(tb, "kept")
	if _, err := fmt.Sscanf(line, "kept %d %d", &distinct, &dups); err != nil {
		tb.Fatalf("test server process: kept: %q: %v", line, err)
	}
	return distinct, dups
}
