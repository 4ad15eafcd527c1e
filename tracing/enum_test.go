package tracing

import "testing"

func TestEnumAliasesAndMessages(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Protocol
	}{{"", ProtocolAuto}, {" AUTO ", ProtocolAuto}, {"1", ProtocolV1}, {"V2", ProtocolV2}, {"2", ProtocolV2}} {
		if got, err := protocolNames.parse(tt.in); err != nil || got != tt.want {
			t.Errorf("parse protocol %q = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for in, want := range map[string]CompressionAlgorithm{"": CompressionZstd, "off": CompressionNone, "Brotli": CompressionBrotli} {
		if got, err := compressionNames.parse(in); err != nil || got != want {
			t.Errorf("parse compression %q = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, tt := range []struct{ err, want string }{
		{errText(protocolNames.parse("v3")), `tracing: invalid config: unknown protocol "v3": want auto, v1 or v2`},
		{errText(compressionNames.parse("xz")), `tracing: invalid config: unknown compression algorithm "xz": want zstd, lz4, gzip, brotli, auto or none`},
		{errText(checksumNames.parse("on")), `tracing: invalid config: unknown checksum mode "on": want when_captured, off or on_record`},
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
