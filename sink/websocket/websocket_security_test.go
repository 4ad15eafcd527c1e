package websocket

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

func TestWebSocketAuth(t *testing.T) {
	const key = "s3cr3t-api-key-0123456789"
	tests := []struct {
		name      string
		header    string
		required  string
		opts      []Option
		wantError bool
	}{
		{name: "api key", header: DefaultAPIKeyHeader, required: key, opts: []Option{WithAPIKey(key)}},
		{name: "custom header", header: "X-Reflow-Key", required: key, opts: []Option{WithAPIKey(key), WithAPIKeyHeader("X-Reflow-Key")}},
		{name: "bearer", header: "Authorization", required: "Bearer " + key, opts: []Option{WithBearerToken(key)}},
		{name: "wrong key", header: DefaultAPIKeyHeader, required: "other-key-value", opts: []Option{WithAPIKey(key)}, wantError: true},
		{name: "no key", header: DefaultAPIKeyHeader, required: key, wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, tracetest.WithAPIKey(tt.header, tt.required))
			core, logs := observer.New(zap.DebugLevel)
			opts := append([]Option{WithLogger(zap.New(core))}, tt.opts...)
			s, el := newTestSink(t, srv.URL()+"/?token="+key, opts...)
			b := makeEvents(5, tracing.NewTraceID())
			if err := s.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
			err := s.Flush(ctx)
			var texts []string
			if tt.wantError {
				if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "401") {
					t.Fatalf("Flush = %v, want ErrPermanent naming 401", err)
				}
				if st := srv.Stats(); st.Connects != 0 || len(st.Headers) != 1 {
					t.Fatalf("the refused credentials were retried: %d upgrade requests", len(st.Headers))
				}
				texts = append(texts, err.Error())
			} else if err != nil {
				t.Fatalf("Flush: %v", err)
			} else if m := missing(ids(b), srv.Kept()); len(m) > 0 {
				t.Fatalf("%d events lost", len(m))
			}
			cerr := s.Close(ctx)
			if cerr != nil {
				texts = append(texts, cerr.Error())
			}
			for _, e := range el.all() {
				texts = append(texts, e.Error())
			}
			for _, e := range logs.All() {
				texts = append(texts, e.Message)
				for k, v := range e.ContextMap() {
					texts = append(texts, fmt.Sprint(k, v))
				}
			}
			texts = append(texts, fmt.Sprintf("%+v", s.Stats()))
			for _, txt := range texts {
				if strings.Contains(txt, key) {
					t.Fatalf("the secret leaked: %q", txt)
				}
			}
		})
	}
}

// TestWebSocketFlushAfterPermanentFailure checks that Flush returns a
// permanent connection failure at once also when nothing is queued: a
// sink that can never deliver does not report that all is well.
func TestWebSocketFlushAfterPermanentFailure(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, tracetest.WithAPIKey(DefaultAPIKeyHeader, "the-right-key"))
	s, el := newTestSink(t, srv.URL())
	waitSink(ctx, t, s, "the permanent failure", func(Stats) bool {
		for _, err := range el.all() {
			if errors.Is(err, ErrPermanent) {
				return true
			}
		}
		return false
	})
	for range 2 {
		if err := s.Flush(ctx); !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "401") {
			t.Fatalf("Flush = %v, want ErrPermanent naming 401", err)
		}
	}
}

func TestWebSocketHeaders(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	s, _ := newTestSink(t, srv.URL(), WithHeader("X-Tenant", "acme"), WithOrigin("https://app.example"))
	if err := s.Write(ctx, makeEvents(1, tracing.NewTraceID())); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	h := srv.Stats().Headers[0]
	if h.Get("X-Tenant") != "acme" || h.Get("Origin") != "https://app.example" {
		t.Fatalf("upgrade headers %v", h)
	}
}

func TestWebSocketTLS(t *testing.T) {
	pki := newTestPKI(t)
	tests := []struct {
		name       string
		clientAuth bool
		tls        transport.TLSOptions
		wantErr    string
	}{
		{name: "custom CA", tls: transport.TLSOptions{CAFile: pki.caFile}},
		{name: "mutual TLS", clientAuth: true, tls: transport.TLSOptions{CAFile: pki.caFile, CertFile: pki.clientCert, KeyFile: pki.clientKey}},
		{name: "server name", tls: transport.TLSOptions{CAFile: pki.caFile, ServerName: "tracing.test"}},
		{name: "untrusted", tls: transport.TLSOptions{}, wantErr: "certificate"},
		{name: "wrong name", tls: transport.TLSOptions{CAFile: pki.caFile, ServerName: "other.test"}, wantErr: "certificate"},
		{name: "client certificate missing", clientAuth: true, tls: transport.TLSOptions{CAFile: pki.caFile}, wantErr: "tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			cfg := &tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12}
			if tt.clientAuth {
				cfg.ClientAuth = tls.RequireAndVerifyClientCert
				cfg.ClientCAs = pki.pool
			}
			srv := startServer(t, tracetest.WithTLS(cfg))
			s, _ := newTestSink(t, srv.URL(), WithTLS(tt.tls))
			b := makeEvents(3, tracing.NewTraceID())
			if err := s.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
			err := s.Flush(ctx)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Flush: %v", err)
				}
				if m := missing(ids(b), srv.Kept()); len(m) > 0 {
					t.Fatalf("%d events lost", len(m))
				}
				return
			}
			if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Flush = %v, want a permanent error about %q", err, tt.wantErr)
			}
		})
	}
}

type testPKI struct {
	pool                          *x509.CertPool
	server                        tls.Certificate
	caFile, clientCert, clientKey string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "tracing.test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			DNSNames: []string{"tracing.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	pemOf := func(typ string, der []byte) []byte {
		var b bytes.Buffer
		_ = pem.Encode(&b, &pem.Block{Type: typ, Bytes: der})
		return b.Bytes()
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = write("ca.pem", pemOf("CERTIFICATE", caDER))
	sDER, sKey := issue(2, x509.ExtKeyUsageServerAuth)
	sKeyDER, _ := x509.MarshalECPrivateKey(sKey)
	p.server, err = tls.X509KeyPair(pemOf("CERTIFICATE", sDER), pemOf("EC PRIVATE KEY", sKeyDER))
	if err != nil {
		t.Fatal(err)
	}
	cDER, cKey := issue(3, x509.ExtKeyUsageClientAuth)
	cKeyDER, _ := x509.MarshalECPrivateKey(cKey)
	p.clientCert = write("client.pem", pemOf("CERTIFICATE", cDER))
	p.clientKey = write("client-key.pem", pemOf("EC PRIVATE KEY", cKeyDER))
	return p
}
