package propagation

import "net/http"

// TextMapCarrier is the text metadata a trace is injected into and
// extracted from. Its method set is that of OpenTelemetry's
// propagation.TextMapCarrier, whose implementations satisfy it.
type TextMapCarrier interface {
	// Get returns the value of key, or "" if there is none.
	Get(key string) string
	// Set stores value under key, replacing what was there.
	Set(key, value string)
	// Keys lists the keys the carrier holds.
	Keys() []string
}

// MapCarrier is a TextMapCarrier on a map, with keys as given: for message
// metadata. Set on a nil MapCarrier panics, as on a nil map.
type MapCarrier map[string]string

var _ TextMapCarrier = MapCarrier(nil)

// Get returns the value of key, or "".
func (c MapCarrier) Get(key string) string { return c[key] }

// Set stores value under key.
func (c MapCarrier) Set(key, value string) { c[key] = value }

// Keys returns the map's keys, in no particular order.
func (c MapCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// HeaderCarrier is a TextMapCarrier on an http.Header: keys are
// canonicalized as http.Header does.
type HeaderCarrier http.Header

var _ TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value of key, or "".
func (c HeaderCarrier) Get(key string) string { return http.Header(c).Get(key) }

// Values returns every value of key, as Extract reads a field that may
// come in several headers (tracestate). Its method is that of
// OpenTelemetry's propagation.ValuesGetter.
func (c HeaderCarrier) Values(key string) []string { return http.Header(c).Values(key) }

// Set replaces the values of key with value.
func (c HeaderCarrier) Set(key, value string) { http.Header(c).Set(key, value) }

// Keys returns the header's keys, canonicalized, in no particular order.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
