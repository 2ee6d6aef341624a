package state

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
)

// sameValue compares two key values exactly: same type, same bits (NaN
// included, -0 apart from 0), the same instant and offset for times.
func sameValue(a, b any) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	switch a := a.(type) {
	case float64:
		return math.Float64bits(a) == math.Float64bits(b.(float64))
	case float32:
		return math.Float32bits(a) == math.Float32bits(b.(float32))
	case time.Time:
		bt := b.(time.Time)
		_, ao := a.Zone()
		_, bo := bt.Zone()
		return a.Equal(bt) && ao == bo
	}
	return reflect.DeepEqual(a, b)
}

func TestKeyRoundTrip(t *testing.T) {
	t.Parallel()
	plus5 := time.FixedZone("", 5*3600+30*60)
	cases := map[string][]any{
		"nil value":             {nil},
		"int64":                 {int64(42)},
		"int64 min":             {int64(math.MinInt64)},
		"int64 max":             {int64(math.MaxInt64)},
		"int32":                 {int32(math.MinInt32)},
		"int":                   {int(-7)},
		"uint64 max":            {uint64(math.MaxUint64)},
		"uint64 past 2^53":      {uint64(1<<53 + 1)},
		"uint32":                {uint32(math.MaxUint32)},
		"float64":               {0.1},
		"float64 small":         {math.SmallestNonzeroFloat64},
		"float64 large":         {math.MaxFloat64},
		"float64 -0":            {math.Copysign(0, -1)},
		"float64 NaN":           {math.NaN()},
		"float64 +Inf":          {math.Inf(1)},
		"float64 -Inf":          {math.Inf(-1)},
		"float32":               {float32(0.1)},
		"float32 max":           {float32(math.MaxFloat32)},
		"string":                {"héllo <&> \"quoted\" `tick`"},
		"string empty":          {""},
		"string NUL":            {"a\x00b"},
		"string invalid UTF-8":  {"\xff\xfe latin1 \xe9"},
		"bytes":                 {[]byte("abc")},
		"bytes empty":           {[]byte{}},
		"bytes NUL":             {[]byte{0, 0, 1, 0}},
		"bytes invalid UTF-8":   {[]byte{0xc3, 0x28, 0xff}},
		"bytes all values":      {allBytes()},
		"decimal as bytes":      {[]byte("-12345678901234567890.123456789")},
		"text":                  {capture.Text("naïve")},
		"text invalid UTF-8":    {capture.Text{0xe9, 't', 0xe9}},
		"text NUL":              {capture.Text{0}},
		"text empty":            {capture.Text{}},
		"time UTC":              {time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC)},
		"time nanoseconds":      {time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)},
		"time offset":           {time.Date(1999, 12, 31, 1, 2, 3, 0, plus5)},
		"time zero":             {time.Time{}},
		"time far":              {time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		"composite":             {int64(1), "two", []byte{3}, nil, capture.Text("five"), uint64(6), 7.5, time.Unix(8, 0).UTC()},
		"empty key (not nil)":   {},
		"string looks like hex": {"00ff"},
	}
	for name, key := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := EncodeKey(key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeKey(s)
			if err != nil {
				t.Fatalf("decode %s: %v", s, err)
			}
			if got == nil || len(got) != len(key) {
				t.Fatalf("%s decoded to %#v, want %#v", s, got, key)
			}
			for i := range key {
				if !sameValue(got[i], key[i]) {
					t.Errorf("%s: value %d decoded to %#v (%T), want %#v (%T)", s, i, got[i], got[i], key[i], key[i])
				}
			}
		})
	}
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestKeyNil(t *testing.T) {
	t.Parallel()
	s, err := EncodeKey(nil)
	if err != nil || s != "null" {
		t.Fatalf("EncodeKey(nil) = %q, %v; want null", s, err)
	}
	got, err := DecodeKey(s)
	if err != nil || got != nil {
		t.Fatalf("DecodeKey(null) = %#v, %v; want nil", got, err)
	}
}

// TestKeyReadable pins the stored form: an operator reads it in SELECT
// output, so numbers are exact text and only bytes that are not UTF-8 are
// hexadecimal.
func TestKeyReadable(t *testing.T) {
	t.Parallel()
	s, err := EncodeKey([]any{uint64(math.MaxUint64), "a<b", []byte{0xff, 0}, nil})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"t":"uint64","v":"18446744073709551615"},{"t":"string","v":"a<b"},{"t":"bytes","hex":"ff00"},{"t":"null"}]`
	if s != want {
		t.Errorf("encoded as\n%s\nwant\n%s", s, want)
	}
}

func TestKeyRefused(t *testing.T) {
	t.Parallel()
	if _, err := EncodeKey([]any{struct{}{}}); err == nil || !strings.Contains(err.Error(), "struct {}") {
		t.Errorf("a struct key value: err = %v, want a refusal naming the type", err)
	}
	bad := map[string]string{
		"not JSON":        `[{`,
		"unknown type":    `[{"t":"decimal","v":"1.5"}]`,
		"bad hex":         `[{"t":"bytes","hex":"zz"}]`,
		"text and hex":    `[{"t":"string","v":"a","hex":"61"}]`,
		"no value":        `[{"t":"bytes"}]`,
		"int as hex":      `[{"t":"int64","hex":"01"}]`,
		"int overflow":    `[{"t":"int64","v":"9223372036854775808"}]`,
		"int32 overflow":  `[{"t":"int32","v":"2147483648"}]`,
		"uint negative":   `[{"t":"uint64","v":"-1"}]`,
		"uint32 overflow": `[{"t":"uint32","v":"4294967296"}]`,
		"bad float":       `[{"t":"float64","v":"one"}]`,
		"bad time":        `[{"t":"time","v":"yesterday"}]`,
	}
	for name, s := range bad {
		if got, err := DecodeKey(s); err == nil {
			t.Errorf("%s: DecodeKey(%s) = %#v, want an error", name, s, got)
		}
	}
}
