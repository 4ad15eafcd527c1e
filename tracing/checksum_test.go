package tracing

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestContentChecksum(t *testing.T) {
	// Reflow's test vector.
	const empty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	sha := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"empty object", `{}`, empty},
		{"whitespace", " {\n\t} ", empty},
		{"member order", `{"b":2,"a":[1,"x",null,true]}`, sha(`{"a":[1,"x",null,true],"b":2}`)},
		{"nested order", `{"z":{"y":1,"x":2},"a":{}}`, sha(`{"a":{},"z":{"x":2,"y":1}}`)},
		{"numbers", `[1.0,1e2,-0,0.5e-6,1E21]`, sha(`[1,100,0,5e-7,1e+21]`)},
		{"string escapes", `"\u0041\u00e9\n\u2028"`, sha("\"A\u00e9\\n\u2028\"")},
		{"scalar", `7`, sha(`7`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ContentChecksum([]byte(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(got) {
				t.Fatalf("%s is not sha256: and 64 lower-case hex digits", got)
			}
		})
	}
}

func TestContentChecksumErrors(t *testing.T) {
	for _, in := range []string{"", "{", `{"a":}`, `{} {}`, `[1,]`, "\"\xff\"", `NaN`} {
		t.Run(in, func(t *testing.T) {
			got, err := ContentChecksum([]byte(in))
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "content checksum") {
				t.Fatalf("got %q, %v; want an error wrapping ErrMalformed", got, err)
			}
		})
	}
	if _, err := ContentChecksum(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil content: %v", err)
	}
}

func BenchmarkContentChecksum(b *testing.B) {
	content := []byte(`{"sensor":"s-17","reading":{"celsius":21.5,"ok":true,"samples":[1,2,3,4,5,6,7,8]},"tags":{"zone":"eu","rack":"r4"}}`)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ContentChecksum(content); err != nil {
			b.Fatal(err)
		}
	}
}
