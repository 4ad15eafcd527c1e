package attr

import (
	"math"
	"testing"
)

func TestValueKindsAndAccessors(t *testing.T) {
	tests := []struct {
		name  string
		v     Value
		kind  Kind
		check func(Value) bool
	}{
		{"zero is null", Value{}, KindNull, func(v Value) bool { return v.String() == "null" }},
		{"string", StringValue("héllo"), KindString, func(v Value) bool { return v.Str() == "héllo" }},
		{"empty string", StringValue(""), KindString, func(v Value) bool { return v.Str() == "" }},
		{"int", IntValue(-42), KindInt, func(v Value) bool { return v.Int() == -42 && v.Float() == -42 }},
		{"uint max", UintValue(math.MaxUint64), KindUint, func(v Value) bool { return v.Uint() == math.MaxUint64 }},
		{"float", FloatValue(1.5), KindFloat, func(v Value) bool { return v.Float() == 1.5 && v.Int() == 1 }},
		{"bool", BoolValue(true), KindBool, func(v Value) bool { return v.Bool() }},
		{"array", ArrayValue(IntValue(1), StringValue("x")), KindArray, func(v Value) bool {
			a := v.Array()
			return len(a) == 2 && a[0].Int() == 1 && a[1].Str() == "x"
		}},
		{"object", ObjectValue(String("k", "v")), KindObject, func(v Value) bool {
			o := v.Object()
			return len(o) == 1 && o[0].Key == "k" && o[0].Value.Str() == "v"
		}},
		{"empty array", ArrayValue(), KindArray, func(v Value) bool { return len(v.Array()) == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.v.Kind(); got != tt.kind {
				t.Fatalf("Kind = %v, want %v", got, tt.kind)
			}
			if !tt.check(tt.v) {
				t.Fatalf("accessor check failed for %v", tt.v)
			}
			if !tt.v.Equal(tt.v) {
				t.Fatal("a value must equal itself")
			}
		})
	}
}

func TestValueEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b Value
		want bool
	}{
		{"same string", StringValue("a"), StringValue("a"), true},
		{"different string", StringValue("a"), StringValue("b"), false},
		{"int vs uint", IntValue(1), UintValue(1), false},
		{"nested equal", ArrayValue(ObjectValue(Int("a", 1))), ArrayValue(ObjectValue(Int("a", 1))), true},
		{"nested differs", ArrayValue(ObjectValue(Int("a", 1))), ArrayValue(ObjectValue(Int("a", 2))), false},
		{"null", Value{}, Value{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.want {
				t.Fatalf("Equal = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAttributesSetReplacesAndKeepsOrder(t *testing.T) {
	var as Set
	for i, k := range []string{"a", "b", "c", "d", "e", "f"} {
		as.Set(Int(k, i))
	}
	as.Set(String("b", "replaced")) // inline
	as.Set(String("f", "replaced")) // overflow
	if as.Len() != 6 {
		t.Fatalf("Len = %d, want 6", as.Len())
	}
	want := []string{"a", "b", "c", "d", "e", "f"}
	for i, k := range want {
		if as.At(i).Key != k {
			t.Fatalf("At(%d).Key = %q, want %q", i, as.At(i).Key, k)
		}
	}
	if v, ok := as.Get("b"); !ok || v.Str() != "replaced" {
		t.Fatalf("Get(b) = %v, %v", v, ok)
	}
	if v, ok := as.Get("f"); !ok || v.Str() != "replaced" {
		t.Fatalf("Get(f) = %v, %v", v, ok)
	}
	if _, ok := as.Get("zzz"); ok {
		t.Fatal("Get of a missing key reported present")
	}
}

func TestAttributesCopiesDoNotShareWrites(t *testing.T) {
	var a Set
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		a.Set(Int(k, i))
	}
	b := a // a copy shares the overflow slice
	b.Set(Int("e", 99))
	b.Set(Int("new", 1))
	if v, _ := a.Get("e"); v.Int() != 4 {
		t.Fatalf("writing a copy changed the original: e = %v", v)
	}
	if _, ok := a.Get("new"); ok {
		t.Fatal("appending to a copy changed the original")
	}
}

func TestAttributesDelete(t *testing.T) {
	var as Set
	for i, k := range []string{"a", "b", "c", "d", "e", "f"} {
		as.Set(Int(k, i))
	}
	as.Delete("b")
	as.Delete("f")
	as.Delete("missing")
	var keys string
	as.All(func(a KeyValue) bool { keys += a.Key; return true })
	if keys != "acde" {
		t.Fatalf("keys after Delete = %q, want %q", keys, "acde")
	}
}

func TestAttributesInlineAddDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		var as Set
		as.Add(String("a", "x"), Int("b", 1), Float64("c", 2.5), Bool("d", true))
	}); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}

func TestAttributesEqual(t *testing.T) {
	var a, b Set
	a.Add(Int("x", 1), String("y", "z"))
	b.Add(Int("x", 1), String("y", "z"))
	if !a.Equal(&b) {
		t.Fatal("equal attribute sets compare unequal")
	}
	b.Set(Int("x", 2))
	if a.Equal(&b) {
		t.Fatal("different attribute sets compare equal")
	}
}
