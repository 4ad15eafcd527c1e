package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// Load reads the tracing.toml file at path and returns
// tracing.DefaultConfig with the file's settings applied, validated, with
// its defaults filled in (see the package documentation for the keys).
// Every problem of the file, and every problem TracingConfig.Validate
// finds in what it set, is reported in one error wrapping
// tracing.ErrInvalidConfig, each naming the file and line, the key, the
// value as written and what is wanted
// (`tracing.toml:3: tracing.batch_size = "abc": want an integer`); a key
// that names no setting is one of them, with the nearest known key. A
// file that is not valid TOML gives one error, with the line of its first
// syntax error; a file that cannot be read an error wrapping the fs
// error. On error Load returns the zero TracingConfig. Suspicious but
// valid settings are kept as warnings (TracingConfig.Warnings), which
// tracing.New logs.
func Load(path string) (tracing.TracingConfig, error) {
	c, ok, err := loadConfigFile(tracing.DefaultConfig(), path)
	if ok {
		err = errors.Join(err, c.Validate())
	}
	if err != nil {
		return tracing.TracingConfig{}, err
	}
	return c.WithDefaults(), nil
}

// LoadWithEnv reads the tracing.toml file at path like Load, then
// applies the REFLOW_TRACING_* environment variables like ApplyEnv, and
// validates the result once: the environment wins over the file, and
// code that sets fields afterwards wins over both. The problems of the
// file and of the environment are reported together, in one error, as
// Load and ApplyEnv describe; on error LoadWithEnv returns the zero
// TracingConfig.
func LoadWithEnv(path string) (tracing.TracingConfig, error) {
	c, ok, err := loadConfigFile(tracing.DefaultConfig(), path)
	if !ok {
		return tracing.TracingConfig{}, err
	}
	c, envErr := applyEnv(c, os.Environ())
	if err := errors.Join(err, envErr, c.Validate()); err != nil {
		return tracing.TracingConfig{}, err
	}
	return c.WithDefaults(), nil
}

// loadConfigFile reads path and applies it over base without validating.
// ok is false when the file could not be read or parsed; otherwise c holds
// every setting of the file that could be applied, and err the problems of
// the others.
func loadConfigFile(base tracing.TracingConfig, path string) (c tracing.TracingConfig, ok bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tracing.TracingConfig{}, false, fmt.Errorf("config: load: %w", err)
	}
	return decodeConfig(base, path, string(data))
}

// decodeConfig applies the TOML document doc, read from name, over base,
// as loadConfigFile does.
func decodeConfig(base tracing.TracingConfig, name, doc string) (tracing.TracingConfig, bool, error) {
	var f struct {
		Tracing toml.Primitive `toml:"tracing"`
	}
	md, err := toml.Decode(doc, &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			where := ""
			if pe.LastKey != "" {
				where = " (after key " + pe.LastKey + ")"
			}
			return tracing.TracingConfig{}, false, fmt.Errorf("%w: %s:%d: not valid TOML%s: %s", tracing.ErrInvalidConfig, name, pe.Position.Line, where, pe.Message)
		}
		return tracing.TracingConfig{}, false, fmt.Errorf("%w: %s: not valid TOML: %w", tracing.ErrInvalidConfig, name, err)
	}
	if !md.IsDefined("tracing") {
		var top []string
		for _, k := range md.Keys() {
			if len(k) == 1 {
				top = append(top, k[0])
			}
		}
		hint := ""
		if near := nearest("tracing", top); near != "" {
			hint = fmt.Sprintf(" (is [%s] a misspelling?)", near)
		}
		return tracing.TracingConfig{}, false, fmt.Errorf("%w: %s: no [tracing] table%s", tracing.ErrInvalidConfig, name, hint)
	}
	d := fileDecoder{md: &md, name: name, c: base}
	loadedFile(&d.c)
	d.table(f.Tracing, toml.Key{"tracing"})
	sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].line < d.problems[j].line })
	errs := make([]error, len(d.problems))
	for i, p := range d.problems {
		errs[i] = p.err
	}
	return d.c, true, errors.Join(errs...)
}

// fileDecoder applies the [tracing] table of a file to a config, key by
// key, so that each problem is reported with its line and none stops the
// others.
type fileDecoder struct {
	md       *toml.MetaData
	name     string // the file
	c        tracing.TracingConfig
	problems []fileProblem
}

type fileProblem struct {
	line int
	err  error
}

// fail records a problem at line, described by msg.
func (d *fileDecoder) fail(line int, msg string) {
	d.problems = append(d.problems, fileProblem{line, fmt.Errorf("%w: %s:%d: %s", tracing.ErrInvalidConfig, d.name, line, msg)})
}

// capture is a toml.Unmarshaler that keeps the value it is given and
// fails, so that the decoder returns a toml.ParseError with the position
// of the value's key.
type capture struct{ v any }

var errCaptured = errors.New("captured")

func (c *capture) UnmarshalTOML(v any) error {
	c.v = v
	return errCaptured
}

// value returns the value of prim (bool, int64, float64, string, a date,
// []any, map[string]any or []map[string]any) and the line of its key.
func (d *fileDecoder) value(prim toml.Primitive) (v any, line int) {
	var c capture
	var pe toml.ParseError
	if errors.As(d.md.PrimitiveDecode(prim, &c), &pe) {
		line = pe.Position.Line
	}
	return c.v, line
}

// entries returns the keys of the table prim, with their values.
func (d *fileDecoder) entries(prim toml.Primitive) map[string]toml.Primitive {
	var m map[string]toml.Primitive
	if d.md.PrimitiveDecode(prim, &m) != nil {
		return nil
	}
	return m
}

// table applies the table prim, whose key is key, one of the tables of
// the settings' keys.
func (d *fileDecoder) table(prim toml.Primitive, key toml.Key) {
	v, line := d.value(prim)
	if _, ok := v.(map[string]any); !ok {
		d.fail(line, fmt.Sprintf("%s = %s: want a table ([%s])", key, showTOML(v), key))
		return
	}
	for name, p := range d.entries(prim) {
		k := append(slices.Clip(key), name)
		switch s := k.String(); {
		case isConfigTable(s):
			d.table(p, k)
		case settingByKey(s) >= 0:
			d.leaf(settingByKey(s), p)
		default:
			d.unknown(p, k)
		}
	}
}

// leaf applies the value prim of settings[i].
func (d *fileDecoder) leaf(i int, prim toml.Primitive) {
	st := &settings[i]
	raw, line := d.value(prim)
	shown := showTOML(raw)
	if st.kind == kindSecret {
		shown = redacted
	}
	v, why := st.parseTOML(raw)
	if why != "" {
		d.fail(line, fmt.Sprintf("%s = %s: %s", st.key, shown, why))
		return
	}
	st.set(&d.c, v)
	record(&d.c, i, origin{file: d.name, line: line, shown: shown})
	if m := st.zeroMeans(v); m != "" {
		warn(&d.c, fmt.Sprintf("%s:%d: %s = %s means %s", d.name, line, st.key, shown, m))
	}
}

// unknown reports the key k, which no setting has: each key of a table
// that is not one of the settings' tables, or k itself.
func (d *fileDecoder) unknown(prim toml.Primitive, k toml.Key) {
	v, line := d.value(prim)
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		for name, p := range d.entries(prim) {
			d.unknown(p, append(slices.Clip(k), name))
		}
		return
	}
	d.fail(line, unknownName(k.String(), "key", fileKeys()))
}

// isConfigTable reports whether key is a table of the settings' keys
// ("tracing", "tracing.retry", …).
func isConfigTable(key string) bool {
	for i := range settings {
		if strings.HasPrefix(settings[i].key, key+".") {
			return true
		}
	}
	return false
}

// fileKeys returns every key the file may have, tables included.
func fileKeys() []string {
	var keys []string
	for i := range settings {
		k := settings[i].key
		for j := range len(k) {
			if k[j] == '.' && !slices.Contains(keys, k[:j]) {
				keys = append(keys, k[:j])
			}
		}
		keys = append(keys, k)
	}
	return keys
}

// showTOML formats a decoded TOML value for an error message.
func showTOML(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = showTOML(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []map[string]any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = showTOML(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " = " + showTOML(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case float64:
		// As TOML writes it: 1.0 is a float, 1 an integer; nan, inf.
		switch {
		case math.IsNaN(x):
			return "nan"
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		}
		f := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(f, ".eE") {
			f += ".0"
		}
		return f
	case time.Time:
		switch x.Location().String() { // as the TOML decoder names them
		case "date-local":
			return x.Format(time.DateOnly)
		case "time-local":
			return x.Format("15:04:05.999999999")
		case "datetime-local":
			return x.Format("2006-01-02T15:04:05.999999999")
		}
		return x.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// parseTOML converts a decoded TOML value (bool, int64, float64, string,
// []any, map[string]any or a date) like parseString converts an
// environment value.
func (st *setting) parseTOML(v any) (val any, why string) {
	switch st.kind {
	case kindBool:
		if b, ok := v.(bool); ok {
			return b, ""
		}
		return nil, "want a boolean (true or false)"
	case kindInt:
		if n, ok := v.(int64); ok && n >= math.MinInt && n <= math.MaxInt {
			return int(n), ""
		}
		return nil, "want an integer"
	case kindRetries:
		switch x := v.(type) {
		case int64:
			if x >= math.MinInt && x <= math.MaxInt {
				return int(x), ""
			}
		case string:
			if x = strings.ToLower(x); x == "none" || x == "unlimited" {
				return parseRetries(x)
			}
		}
		return nil, wantRetries
	case kindUint:
		if n, ok := v.(int64); ok && n >= 0 {
			return uint64(n), ""
		}
		return nil, "want a non-negative integer"
	case kindFloat:
		switch x := v.(type) {
		case float64:
			return finite(x, "want a finite number")
		case int64:
			return float64(x), ""
		}
		return nil, "want a number"
	case kindFill:
		switch x := v.(type) {
		case float64:
			return finite(x, wantFill)
		case int64:
			return float64(x), ""
		case string:
			if strings.EqualFold(x, "off") {
				return -1.0, "" // off
			}
		}
		return nil, wantFill
	case kindString, kindSecret:
		if s, ok := v.(string); ok {
			return s, ""
		}
		return nil, "want a string"
	case kindMillis:
		if n, ok := v.(int64); ok {
			return millis(n)
		}
		return nil, wantMillis
	case kindStrings, kindKinds:
		arr, ok := v.([]any)
		if !ok {
			return nil, "want an array of strings"
		}
		ss := make([]string, len(arr))
		for i, e := range arr {
			if ss[i], ok = e.(string); !ok {
				return nil, "want an array of strings"
			}
		}
		if st.kind == kindKinds {
			return parseKinds(ss)
		}
		return ss, ""
	case kindPolicy:
		if s, ok := v.(string); ok {
			return parsePolicy(s)
		}
		return nil, wantPolicy
	case kindCompression:
		if s, ok := v.(string); ok {
			return parseCompression(s)
		}
		return nil, wantCompression
	case kindProtocol:
		if s, ok := v.(string); ok {
			return parseProtocolSetting(s)
		}
		return nil, wantProtocol
	case kindChecksums:
		if s, ok := v.(string); ok {
			return parseChecksums(s)
		}
		return nil, wantChecksums
	case kindTags:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "want a table of strings"
		}
		tags := make(map[string]string, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			s, ok := m[k].(string)
			if !ok {
				return nil, fmt.Sprintf("tag %q: want a string", k)
			}
			tags[k] = s
		}
		return tags, ""
	}
	panic("config: unknown setting kind")
}
