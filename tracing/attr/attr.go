// Package attr holds the custom attributes a trace event carries: a
// KeyValue is a key and a Value, any JSON value (null, bool, number,
// string, array, object) held without allocating for scalars; a Set is the
// ordered set an event keeps, its first few entries inline. Build them with
// the constructors (String, Int, Float64, ..., ObjectValue) and pass them to
// tracing.TracingClient.Custom or NetworkEvent.
package attr

import (
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// Kind is the JSON type of a Value.
//
// The kinds, their values and names (String):
//
//	KindNull     0  Null
//	KindBool     1  Bool
//	KindInt      2  Int
//	KindUint     3  Uint
//	KindFloat    4  Float
//	KindString   5  String
//	KindArray    6  Array
//	KindObject   7  Object
type Kind uint8

// The value kinds. The zero Value is KindNull.
const (
	KindNull Kind = iota
	KindBool
	KindInt
	KindUint
	KindFloat
	KindString
	KindArray
	KindObject
)

var valueKindNames = [...]string{"Null", "Bool", "Int", "Uint", "Float", "String", "Array", "Object"}

// String returns the kind's name.
func (k Kind) String() string {
	if int(k) < len(valueKindNames) {
		return valueKindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Value is any JSON value of a custom attribute. Scalars and strings are held
// without allocation; arrays and objects refer to the slice they were built
// from. The zero Value is JSON null.
type Value struct {
	_   [0]func() // not comparable with ==; use Equal
	num uint64
	// any holds a Kind for scalars, or one of the pointer types below
	// (with num as the length) for strings, arrays and objects.
	any any
}

type (
	stringptr *byte
	arrayptr  *Value
	objectptr *KeyValue
)

// StringValue returns a string Value.
func StringValue(s string) Value {
	return Value{num: uint64(len(s)), any: stringptr(unsafe.StringData(s))}
}

// IntValue returns an integer Value.
func IntValue(v int64) Value { return Value{num: uint64(v), any: KindInt} }

// UintValue returns an unsigned integer Value.
func UintValue(v uint64) Value { return Value{num: v, any: KindUint} }

// FloatValue returns a floating-point Value. NaN and ±Inf are written as 0.
func FloatValue(v float64) Value { return Value{num: math.Float64bits(v), any: KindFloat} }

// BoolValue returns a boolean Value.
func BoolValue(v bool) Value {
	var n uint64
	if v {
		n = 1
	}
	return Value{num: n, any: KindBool}
}

// ArrayValue returns a JSON array of vs. It keeps vs; do not modify it
// afterwards.
func ArrayValue(vs ...Value) Value {
	return Value{num: uint64(len(vs)), any: arrayptr(unsafe.SliceData(vs))}
}

// ObjectValue returns a JSON object of attrs, in order. It keeps attrs; do
// not modify it afterwards. When a key repeats, the last one wins.
func ObjectValue(attrs ...KeyValue) Value {
	return Value{num: uint64(len(attrs)), any: objectptr(unsafe.SliceData(attrs))}
}

// Kind returns v's JSON type.
func (v Value) Kind() Kind {
	switch x := v.any.(type) {
	case Kind:
		return x
	case stringptr:
		return KindString
	case arrayptr:
		return KindArray
	case objectptr:
		return KindObject
	}
	return KindNull
}

// Bool returns v's boolean; false unless v.Kind() is KindBool.
func (v Value) Bool() bool { return v.Kind() == KindBool && v.num == 1 }

// Int returns v's integer; for other kinds it converts what it can and
// returns 0 otherwise.
func (v Value) Int() int64 {
	switch v.Kind() {
	case KindInt, KindUint:
		return int64(v.num)
	case KindFloat:
		return int64(v.Float())
	}
	return 0
}

// Uint returns v's unsigned integer (see Int).
func (v Value) Uint() uint64 { return uint64(v.Int()) }

// Float returns v's number as a float64; 0 for non-numbers.
func (v Value) Float() float64 {
	switch v.Kind() {
	case KindFloat:
		return math.Float64frombits(v.num)
	case KindInt:
		return float64(int64(v.num))
	case KindUint:
		return float64(v.num)
	}
	return 0
}

// Str returns v's string; "" unless v.Kind() is KindString. (String formats any
// Value.)
func (v Value) Str() string {
	if p, ok := v.any.(stringptr); ok {
		return unsafe.String(p, v.num)
	}
	return ""
}

// Array returns v's elements; nil unless v.Kind() is KindArray.
func (v Value) Array() []Value {
	if p, ok := v.any.(arrayptr); ok {
		return unsafe.Slice((*Value)(p), v.num)
	}
	return nil
}

// Object returns v's members; nil unless v.Kind() is KindObject.
func (v Value) Object() []KeyValue {
	if p, ok := v.any.(objectptr); ok {
		return unsafe.Slice((*KeyValue)(p), v.num)
	}
	return nil
}

// Equal reports whether v and w are the same JSON value (objects compare
// member by member, in order).
func (v Value) Equal(w Value) bool {
	k := v.Kind()
	if k != w.Kind() {
		return false
	}
	switch k {
	case KindString:
		return v.Str() == w.Str()
	case KindArray:
		return slices.EqualFunc(v.Array(), w.Array(), Value.Equal)
	case KindObject:
		return slices.EqualFunc(v.Object(), w.Object(), KeyValue.Equal)
	case KindNull:
		return true
	}
	return v.num == w.num
}

// String formats v for humans (not JSON).
func (v Value) String() string {
	switch v.Kind() {
	case KindNull:
		return "null"
	case KindBool:
		return fmt.Sprint(v.Bool())
	case KindInt:
		return fmt.Sprint(v.Int())
	case KindUint:
		return fmt.Sprint(v.num)
	case KindFloat:
		return fmt.Sprint(v.Float())
	case KindString:
		return v.Str()
	case KindArray:
		return fmt.Sprint(v.Array())
	default:
		return fmt.Sprint(v.Object())
	}
}

// KeyValue is one custom attribute: a key and any JSON value.
type KeyValue struct {
	Key   string
	Value Value
}

// String returns a string attribute.
func String(key, v string) KeyValue { return KeyValue{key, StringValue(v)} }

// Int returns an integer attribute.
func Int(key string, v int) KeyValue { return KeyValue{key, IntValue(int64(v))} }

// Int64 returns an integer attribute.
func Int64(key string, v int64) KeyValue { return KeyValue{key, IntValue(v)} }

// Uint64 returns an unsigned integer attribute.
func Uint64(key string, v uint64) KeyValue { return KeyValue{key, UintValue(v)} }

// Float64 returns a number attribute; NaN and ±Inf are written as 0.
func Float64(key string, v float64) KeyValue { return KeyValue{key, FloatValue(v)} }

// Bool returns a boolean attribute.
func Bool(key string, v bool) KeyValue { return KeyValue{key, BoolValue(v)} }

// Any returns an attribute holding v.
func Any(key string, v Value) KeyValue { return KeyValue{key, v} }

// Equal reports whether a and b have the same key and equal values.
func (a KeyValue) Equal(b KeyValue) bool { return a.Key == b.Key && a.Value.Equal(b.Value) }

// String formats a as key=value.
func (a KeyValue) String() string { return a.Key + "=" + a.Value.String() }

// inlineAttrs is how many attributes an event holds without allocating.
const inlineAttrs = 4

// Set is an ordered set of custom attributes. The first few are held
// inline in the event, so adding them does not allocate. Setting a key that
// is already present replaces its value. The zero value is empty and ready
// to use; it is written as {}.
type Set struct {
	inline   [inlineAttrs]KeyValue
	n        int
	overflow []KeyValue
}

// Len returns the number of attributes.
func (as *Set) Len() int { return as.n + len(as.overflow) }

// At returns the i'th attribute, in insertion order.
func (as *Set) At(i int) KeyValue {
	if i < as.n {
		return as.inline[i]
	}
	return as.overflow[i-as.n]
}

// Get returns the value of key and whether it is present.
func (as *Set) Get(key string) (Value, bool) {
	if i := as.index(key); i >= 0 {
		return as.At(i).Value, true
	}
	return Value{}, false
}

func (as *Set) index(key string) int {
	for i := 0; i < as.n; i++ {
		if as.inline[i].Key == key {
			return i
		}
	}
	for i := range as.overflow {
		if as.overflow[i].Key == key {
			return as.n + i
		}
	}
	return -1
}

// Set adds a, or replaces the value of the attribute with a's key.
func (as *Set) Set(a KeyValue) {
	if i := as.index(a.Key); i >= 0 {
		as.setAt(i, a)
		return
	}
	if as.n < inlineAttrs && len(as.overflow) == 0 {
		as.inline[as.n] = a
		as.n++
		return
	}
	// Copies of an event share overflow; never append into shared capacity.
	as.overflow = append(as.overflow[:len(as.overflow):len(as.overflow)], a)
}

// Add sets each of attrs in turn (see Set): a repeated key keeps its
// first position and its last value. It does not keep attrs.
func (as *Set) Add(attrs ...KeyValue) {
	if len(attrs) <= largeAdd {
		for _, a := range attrs {
			as.Set(a)
		}
		return
	}
	// Many attributes find their keys through a map, not in O(n²), and
	// the overflow is copied once (copies of an event share it).
	index := make(map[string]int, as.Len()+len(attrs))
	for i := range as.Len() {
		index[as.At(i).Key] = i
	}
	own := false
	for _, a := range attrs {
		i, ok := index[a.Key]
		if !ok {
			i = as.Len()
			index[a.Key] = i
			if as.n < inlineAttrs && len(as.overflow) == 0 {
				as.inline[as.n] = a
				as.n++
				continue
			}
		}
		if i < as.n {
			as.inline[i] = a
			continue
		}
		if !own {
			as.overflow = append(make([]KeyValue, 0, len(as.overflow)+len(attrs)), as.overflow...)
			own = true
		}
		if ok {
			as.overflow[i-as.n] = a
		} else {
			as.overflow = append(as.overflow, a)
		}
	}
}

// largeAdd is the size from which Add indexes the keys.
const largeAdd = 32

func (as *Set) setAt(i int, a KeyValue) {
	if i < as.n {
		as.inline[i] = a
		return
	}
	as.overflow = slices.Clone(as.overflow)
	as.overflow[i-as.n] = a
}

// Delete removes the attribute with key, if present, keeping the order of
// the others.
func (as *Set) Delete(key string) {
	i := as.index(key)
	if i < 0 {
		return
	}
	all := as.appendTo(make([]KeyValue, 0, as.Len()))
	as.Reset()
	for j, a := range all {
		if j != i {
			as.Set(a)
		}
	}
}

// Reset removes every attribute.
func (as *Set) Reset() { *as = Set{} }

// All calls yield for each attribute in order until yield returns false.
func (as *Set) All(yield func(KeyValue) bool) {
	for i := 0; i < as.n; i++ {
		if !yield(as.inline[i]) {
			return
		}
	}
	for _, a := range as.overflow {
		if !yield(a) {
			return
		}
	}
}

// Slice returns a new slice of the attributes in order.
func (as *Set) Slice() []KeyValue { return as.appendTo(nil) }

func (as *Set) appendTo(dst []KeyValue) []KeyValue {
	dst = append(dst, as.inline[:as.n]...)
	return append(dst, as.overflow...)
}

// Equal reports whether as and bs hold equal attributes in the same order.
func (as *Set) Equal(bs *Set) bool {
	if as.Len() != bs.Len() {
		return false
	}
	for i := range as.Len() {
		if !as.At(i).Equal(bs.At(i)) {
			return false
		}
	}
	return true
}
