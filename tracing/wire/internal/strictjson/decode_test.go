package strictjson

import "errors"

// errTest is what the errors of the test decoders wrap.
var errTest = errors.New("test: malformed")

// newDecoder returns a Decoder of s whose errors wrap errTest.
func newDecoder(s string) *Decoder {
	d := new(Decoder)
	d.Init([]byte(s), errTest)
	return d
}
