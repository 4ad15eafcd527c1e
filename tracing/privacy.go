package tracing

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/reflowtrace/reflowtrace-go/internal/anon"
	"github.com/reflowtrace/reflowtrace-go/internal/glob"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// redactor applies PrivacyConfig and the user's redactors to an event
// before it is queued. It is safe for concurrent use.
//
// The zero redactor changes nothing; options may build on it.
type redactor struct {
	dropContent bool
	drop        glob.Set
	anonActors  bool
	anonAttrs   glob.Set
	anon        *anon.Hasher
	user        []func(*TraceEvent)

	// checksum computes MessageSnapshot.Checksum of captured content
	// (ChecksumOnRecord), after everything else.
	checksum bool
}

func newRedactor(c *PrivacyConfig) (*redactor, error) {
	r := &redactor{
		dropContent: !c.CaptureContent,
		checksum:    c.CaptureContent && c.Checksums == ChecksumOnRecord,
		anonActors:  c.AnonymizeActors,
	}
	var err error
	if r.drop, err = compileGlobs("Privacy.DropAttributes", c.DropAttributes); err != nil {
		return nil, err
	}
	if r.anonAttrs, err = compileGlobs("Privacy.AnonymizeAttributes", c.AnonymizeAttributes); err != nil {
		return nil, err
	}
	if r.anonActors || len(r.anonAttrs) > 0 {
		if c.AnonymizeKey == "" {
			return nil, fmt.Errorf("%w: Privacy.AnonymizeKey is empty: required when anonymizing", ErrInvalidConfig)
		}
		r.anon = anon.New(anonymizedPrefix, []byte(c.AnonymizeKey))
	}
	return r, nil
}

// changesBuilt reports whether apply can change an event of kind built
// by a per-kind method of TracingClient, which sets no message content:
// only a StateChanged event carries content (its state diff), and
// attributes and actor ids are changed only when the configuration says
// so. The in-place path skips apply when it cannot, and then does not read
// the rest of the event's slot.
func (r *redactor) changesBuilt(kind EventKind) bool {
	if r == nil {
		return false
	}
	return (r.dropContent && kind == KindStateChanged) || len(r.drop) > 0 || r.anon != nil || len(r.user) > 0
}

// active reports whether the redactor changes anything.
func (r *redactor) active() bool {
	return r.dropContent || r.checksum || len(r.drop) > 0 || r.anon != nil || len(r.user) > 0
}

// apply redacts ev in place: content, dropped attributes, anonymization,
// then the user's redactors, in that order, and last, under
// ChecksumOnRecord, fills the checksum of the content that is left (so
// that it is the checksum of what the sinks see, never of content a
// redactor removed). Without attributes to drop or anonymize, with actor
// hashes cached and without content to checksum it does not allocate.
func (r *redactor) apply(ev *TraceEvent) {
	if r.dropContent {
		// Most events carry no content: reading costs less than writing
		// the fields unconditionally.
		if ev.Data.Message.SerializedData != nil {
			ev.Data.Message.SerializedData = nil
		}
		// Keep DiffType: the event still says that the state changed.
		if ev.Data.StateDiff.Before != nil || ev.Data.StateDiff.After != nil {
			ev.Data.StateDiff.Before = nil
			ev.Data.StateDiff.After = nil
		}
	}
	if len(r.drop) > 0 {
		dropAttributes(&ev.Data.CustomAttributes, r.drop)
	}
	if r.anon != nil {
		if r.anonActors {
			ev.ActorID = r.anon.Cached(ev.ActorID)
			if ev.Type.Kind == KindDataFlow {
				ev.Type.ToActor = r.anon.Cached(ev.Type.ToActor)
			}
		}
		if len(r.anonAttrs) > 0 {
			as := &ev.Data.CustomAttributes
			for i := range as.Len() {
				a := as.At(i)
				if r.anonAttrs.Match(a.Key) {
					var s string
					if a.Value.Kind() == attr.KindString {
						s = a.Value.Str()
					} else {
						s = a.Value.String()
					}
					as.Set(attr.String(a.Key, r.anon.Hash(s)))
				}
			}
		}
	}
	if len(r.user) > 0 {
		// The user's redactors work on a scratch copy, so that ev does not
		// escape.
		sc := getScratch(ev)
		for _, f := range r.user {
			f(sc)
		}
		*ev = *sc
		putScratch(sc)
	}
	if r.checksum {
		fillChecksum(&ev.Data)
	}
}

// fillChecksum sets the Checksum of d's message snapshot to the
// ContentChecksum of its SerializedData when the snapshot has content and
// no checksum yet. Content that is not JSON, or that is encoded with a
// ContentCodec other than "none", keeps Checksum "" (see ChecksumMode).
func fillChecksum(d *TraceEventData) {
	m := &d.Message
	if !d.HasMessage || m.Checksum != "" || len(m.SerializedData) == 0 ||
		(m.ContentCodec != "" && m.ContentCodec != "none") {
		return
	}
	if sum, err := ContentChecksum(m.SerializedData); err == nil {
		m.Checksum = sum
	}
}

// dropAttributes removes the attributes whose key matches one of drop,
// keeping the order of the others. It allocates only when it removes
// something.
func dropAttributes(as *attr.Set, drop glob.Set) {
	n := as.Len()
	first := -1
	for i := range n {
		if drop.Match(as.At(i).Key) {
			first = i
			break
		}
	}
	if first < 0 {
		return
	}
	all := as.Slice()
	as.Reset()
	for i, a := range all {
		if i < first || !drop.Match(a.Key) {
			as.Set(a)
		}
	}
}

// String formats p with AnonymizeKey hidden, so that printing a config
// (with %v or %+v) never reveals the key.
func (p PrivacyConfig) String() string {
	key := ""
	if p.AnonymizeKey != "" {
		key = "[redacted]"
	}
	return fmt.Sprintf("{CaptureContent:%t DropAttributes:%q AnonymizeActors:%t AnonymizeAttributes:%q AnonymizeKey:%s}",
		p.CaptureContent, p.DropAttributes, p.AnonymizeActors, p.AnonymizeAttributes, key)
}

// Format writes p as String does for every verb and flag (%v, %+v, %d,
// %x, ...), prefixed with its type for %#v, so that no format shows the
// AnonymizeKey.
func (p PrivacyConfig) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, "tracing.PrivacyConfig")
	}
	_, _ = io.WriteString(f, p.String())
}

// MarshalJSON writes p with AnonymizeKey shown as "[redacted]", so that
// logging a TracingConfig as JSON (encoding/json, zap.Any) does not reveal
// the key.
func (p PrivacyConfig) MarshalJSON() ([]byte, error) {
	type plain PrivacyConfig // without this method
	q := plain(p)
	if q.AnonymizeKey != "" {
		q.AnonymizeKey = "[redacted]"
	}
	return json.Marshal(q)
}
