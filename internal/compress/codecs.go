package compress

// Codecs keeps one compression codec per algorithm, built on first use.
// Not safe for concurrent use.
type Codecs [Brotli + 1]*Codec

// Retained is the memory the codecs keep for joining a frame's parts.
func (cs *Codecs) Retained() int {
	n := 0
	for _, c := range cs {
		if c != nil {
			n += c.Retained()
		}
	}
	return n
}

func (cs *Codecs) Get(a Algorithm) *Codec {
	if cs[a] == nil {
		cs[a], _ = NewCodec(a) // a is always valid here
	}
	return cs[a]
}
