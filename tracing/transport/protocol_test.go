package transport

import (
	"errors"
	"strings"
	"testing"
)

func TestEnumAliasesAndMessages(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Protocol
	}{{"", ProtocolAuto}, {" AUTO ", ProtocolAuto}, {"1", ProtocolV1}, {"V2", ProtocolV2}, {"2", ProtocolV2}} {
		if got, err := protocolNames.Parse(tt.in); err != nil || got != tt.want {
			t.Errorf("parse protocol %q = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for in, want := range map[string]CompressionAlgorithm{"": CompressionZstd, "off": CompressionNone, "Brotli": CompressionBrotli} {
		if got, err := compressionNames.Parse(in); err != nil || got != want {
			t.Errorf("parse compression %q = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, tt := range []struct{ err, want string }{
		{errText(protocolNames.Parse("v3")), `transport: invalid setting: unknown protocol "v3": want auto, v1 or v2`},
		{errText(compressionNames.Parse("xz")), `transport: invalid setting: unknown compression algorithm "xz": want zstd, lz4, gzip, brotli, auto or none`},
	} {
		if tt.err != tt.want {
			t.Errorf("error %q, want %q", tt.err, tt.want)
		}
	}
	if _, err := (ProtocolV2 + 1).MarshalText(); err == nil {
		t.Error("MarshalText of an unknown protocol succeeded")
	}
}

func errText[T any](_ T, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestTextRoundTrip checks that both enums read back what they write, so
// that each can be a flag (flag.TextVar), and that a name or value they do
// not know is an ErrInvalid naming it.
func TestTextRoundTrip(t *testing.T) {
	for p := ProtocolAuto; p <= ProtocolV2; p++ {
		var got Protocol
		if b, err := p.MarshalText(); err != nil || got.UnmarshalText(b) != nil || got != p {
			t.Errorf("%v: MarshalText = %q, %v; read back %v", p, b, err, got)
		}
	}
	for a := CompressionZstd; a <= CompressionNone; a++ {
		var got CompressionAlgorithm
		if b, err := a.MarshalText(); err != nil || got.UnmarshalText(b) != nil || got != a {
			t.Errorf("%v: MarshalText = %q, %v; read back %v", a, b, err, got)
		}
	}
	var p Protocol
	var a CompressionAlgorithm
	for _, u := range []interface{ UnmarshalText([]byte) error }{&p, &a} {
		if err := u.UnmarshalText([]byte("v9")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"v9"`) {
			t.Errorf("%T.UnmarshalText(v9) = %v, want ErrInvalid naming it", u, err)
		}
	}
	if _, err := Protocol(9).MarshalText(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Protocol(9).MarshalText() = %v, want ErrInvalid", err)
	}
	if got := CompressionAlgorithm(9).String(); got != "CompressionAlgorithm(9)" {
		t.Errorf("String of an unknown algorithm = %q", got)
	}
}
