package tracing

import (
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// ValueKind is the JSON type of a Value.
//
// The kinds, their values and names (String):
//
//	ValueNull     0  Null
//	ValueBool     1  Bool
//	ValueInt      2  Int
//	ValueUint     3  Uint
//	ValueFloat    4  Float
//	ValueString   5  String
//	ValueArray    6  Array
//	ValueObject   7  Object
type ValueKind uint8

// The value kinds. The zero Value is ValueNull.
const (
	ValueNull ValueKind = iota
	ValueBool
	ValueInt
	ValueUint
	ValueFloat
	ValueString
	ValueArray
	ValueObject
)

var valueKindNames = [...]string{"Null", "Bool", "Int", "Uint", "Float", "String", "Array", "Object"}

// String returns the kind's name.
func (k ValueKind) String() string {
	if int(k) < len(valueKindNames) {
		return valueKindNames[k]
	}
	return fmt.Sprintf("ValueKind(%d)", uint8(k))
}

// Value is any JSON value of a custom attribute. Scalars and strings are held
// without allocation; arrays and objects refer to the slice they were built
// from. The zero Value is JSON null.
type Value struct {
	_   [0]func() // not comparable with ==; use Equal
	num uint64
	// any holds a ValueKind for scalars, or one of the pointer types below
	// (with num as the length) for strings, arrays and objects.
	any any
}

type (
	stringptr *byte
	arrayptr  *Value
	objectptr *Attr
)

// StringValue returns a string Value.
func StringValue(s string) Value {
	return Value{num: uint64(len(s)), any: stringptr(unsafe.StringData(s))}
}

// IntValue returns an integer Value.
func IntValue(v int64) Value { return Value{num: uint64(v), any: ValueInt} }

// UintValue returns an unsigned integer Value.
func UintValue(v uint64) Value { return Value{num: v, any: ValueUint} }

// FloatValue returns a floating-point Value. NaN and ±Inf are written as 0.
func FloatValue(v float64) Value { return Value{num: math.Float64bits(v), any: ValueFloat} }

// BoolValue returns a boolean Value.
func BoolValue(v bool) Value {
	var n uint64
	if v {
		n = 1
	}
	return Value{num: n, any: ValueBool}
}

// ArrayValue returns a JSON array of vs. It keeps vs; do not modify it
// afterwards.
func ArrayValue(vs ...Value) Value {
	return Value{num: uint64(len(vs)), any: arrayptr(unsafe.SliceData(vs))}
}

// ObjectValue returns a JSON object of attrs, in order. It keeps attrs; do
// not modify it afterwards. When a key repeats, the last one wins.
func ObjectValue(attrs ...Attr) Value {
	return Value{num: uint64(len(attrs)), any: objectptr(unsafe.SliceData(attrs))}
}

// Kind returns v's JSON type.
func (v Value) Kind() ValueKind {
	switch x := v.any.(type) {
	case ValueKind:
		return x
	case stringptr:
		return ValueString
	case arrayptr:
		return ValueArray
	case objectptr:
		return ValueObject
	}
	return ValueNull
}

// Bool returns v's boolean; false unless v is a ValueBool.
func (v Value) Bool() bool { return v.Kind() == ValueBool && v.num == 1 }

// Int returns v's integer; for other kinds it converts what it can and
// returns 0 otherwise.
func (v Value) Int() int64 {
	switch v.Kind() {
	case ValueInt, ValueUint:
		return int64(v.num)
	case ValueFloat:
		return int64(v.Float())
	}
	return 0
}

// Uint returns v's unsigned integer (see Int).
func (v Value) Uint() uint64 { return uint64(v.Int()) }

// Float returns v's number as a float64; 0 for non-numbers.
func (v Value) Float() float64 {
	switch v.Kind() {
	case ValueFloat:
		return math.Float64frombits(v.num)
	case ValueInt:
		return float64(int64(v.num))
	case ValueUint:
		return float64(v.num)
	}
	return 0
}

// Str returns v's string; "" unless v is a ValueString. (String formats any
// Value.)
func (v Value) Str() string {
	if p, ok := v.any.(stringptr); ok {
		return unsafe.String(p, v.num)
	}
	return ""
}

// Array returns v's elements; nil unless v is a ValueArray.
func (v Value) Array() []Value {
	if p, ok := v.any.(arrayptr); ok {
		return unsafe.Slice((*Value)(p), v.num)
	}
	return nil
}

// Object returns v's members; nil unless v is a ValueObject.
func (v Value) Object() []Attr {
	if p, ok := v.any.(objectptr); ok {
		return unsafe.Slice((*Attr)(p), v.num)
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
	case ValueString:
		return v.Str() == w.Str()
	case ValueArray:
		return slices.EqualFunc(v.Array(), w.Array(), Value.Equal)
	case ValueObject:
		return slices.EqualFunc(v.Object(), w.Object(), Attr.Equal)
	case ValueNull:
		return true
	}
	return v.num == w.num
}

// String formats v for humans (not JSON).
func (v Value) String() string {
	switch v.Kind() {
	case ValueNull:
		return "null"
	case ValueBool:
		return fmt.Sprint(v.Bool())
	case ValueInt:
		return fmt.Sprint(v.Int())
	case ValueUint:
		return fmt.Sprint(v.num)
	case ValueFloat:
		return fmt.Sprint(v.Float())
	case ValueString:
		return v.Str()
	case ValueArray:
		return fmt.Sprint(v.Array())
	default:
		return fmt.Sprint(v.Object())
	}
}

// Attr is one custom attribute: a key and any JSON value.
type Attr struct {
	Key   string
	Value Value
}

// String returns a string attribute.
func String(key, v string) Attr { return Attr{key, StringValue(v)} }

// Int returns an integer attribute.
func Int(key string, v int) Attr { return Attr{key, IntValue(int64(v))} }

// Int64 returns an integer attribute.
func Int64(key string, v int64) Attr { return Attr{key, IntValue(v)} }

// Uint64 returns an unsigned integer attribute.
func Uint64(key string, v uint64) Attr { return Attr{key, UintValue(v)} }

// Float64 returns a number attribute; NaN and ±Inf are written as 0.
func Float64(key string, v float64) Attr { return Attr{key, FloatValue(v)} }

// Bool returns a boolean attribute.
func Bool(key string, v bool) Attr { return Attr{key, BoolValue(v)} }

// Any returns an attribute holding v.
func Any(key string, v Value) Attr { return Attr{key, v} }

// Equal reports whether a and b have the same key and equal values.
func (a Attr) Equal(b Attr) bool { return a.Key == b.Key && a.Value.Equal(b.Value) }

// String formats a as key=value.
func (a Attr) String() string { return a.Key + "=" + a.Value.String() }

// inlineAttrs is how many attributes an event holds without allocating.
const inlineAttrs = 4

// Attributes is an ordered set of custom attributes. The first few are held
// inline in the event, so adding them does not allocate. Setting a key that
// is already present replaces its value. The zero value is empty and ready
// to use; it is written as {}.
type Attributes struct {
	inline   [inlineAttrs]Attr
	n        int
	overflow []Attr
}

// Len returns the number of attributes.
func (as *Attributes) Len() int { return as.n + len(as.overflow) }

// At returns the i'th attribute, in insertion order.
func (as *Attributes) At(i int) Attr {
	if i < as.n {
		return as.inline[i]
	}
	return as.overflow[i-as.n]
}

// Get returns the value of key and whether it is present.
func (as *Attributes) Get(key string) (Value, bool) {
	if i := as.index(key); i >= 0 {
		return as.At(i).Value, true
	}
	return Value{}, false
}

func (as *Attributes) index(key string) int {
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
func (as *Attributes) Set(a Attr) {
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
func (as *Attributes) Add(attrs ...Attr) {
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
			as.overflow = append(make([]Attr, 0, len(as.overflow)+len(attrs)), as.overflow...)
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

func (as *Attributes) setAt(i int, a Attr) {
	if i < as.n {
		as.inline[i] = a
		return
	}
	as.overflow = slices.Clone(as.overflow)
	as.overflow[i-as.n] = a
}

// Delete removes the attribute with key, if present, keeping the order of
// the others.
func (as *Attributes) Delete(key string) {
	i := as.index(key)
	if i < 0 {
		return
	}
	all := as.appendTo(make([]Attr, 0, as.Len()))
	as.Reset()
	for j, a := range all {
		if j != i {
			as.Set(a)
		}
	}
}

// Reset removes every attribute.
func (as *Attributes) Reset() { *as = Attributes{} }

// All calls yield for each attribute in order until yield returns false.
func (as *Attributes) All(yield func(Attr) bool) {
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
func (as *Attributes) Slice() []Attr { return as.appendTo(nil) }

func (as *Attributes) appendTo(dst []Attr) []Attr {
	dst = append(dst, as.inline[:as.n]...)
	return append(dst, as.overflow...)
}

// Equal reports whether as and bs hold equal attributes in the same order.
func (as *Attributes) Equal(bs *Attributes) bool {
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
