package compress

// Codecs keeps one Codec per algorithm, each built on first use, for a
// caller that compresses or decodes with whichever algorithm a frame
// needs. The zero value is empty and ready. Not safe for concurrent use.
type Codecs [Brotli + 1]*Codec

// Retained returns the memory the codecs keep for joining a request's
// parts (see Codec.Retained).
func (cs *Codecs) Retained() int {
	n := 0
	for _, c := range cs {
		if c != nil {
			n += c.Retained()
		}
	}
	return n
}

// Get returns the Codec of a, building it on the first call; it returns
// nil for an unknown a.
func (cs *Codecs) Get(a Algorithm) *Codec {
	if !a.valid() {
		return nil
	}
	if cs[a] == nil {
		cs[a] = &Codec{alg: a}
	}
	return cs[a]
}
