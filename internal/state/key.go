package state

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/capture"
)

// keyValue is one value of a key as it is stored: its Go type's tag and the
// value as text. Numbers are text too, so that a reader that takes every
// JSON number for a float64 (jq, a browser) shows a uint64 or an int64 past
// 2^53 as it is. Bytes and strings are text when they are valid UTF-8 (the
// usual case, and what an operator wants to read) and hexadecimal in Hex
// otherwise: encoding/json would replace invalid UTF-8 with U+FFFD, and a
// key whose bytes changed is another key.
type keyValue struct {
	Type  string  `json:"t"`
	Value *string `json:"v,omitempty"`
	Hex   *string `json:"hex,omitempty"`
}

// The type tags of keyValue.Type. Each Go type has its own tag, so that a
// decoded key holds the very types the encoded one held: the copy binds
// them to placeholders, and a capture.Text is bound differently from a
// string (see capture.KeyPlaceholder).
const (
	tagNull    = "null"
	tagInt64   = "int64"
	tagInt32   = "int32"
	tagInt     = "int"
	tagUint64  = "uint64"
	tagUint32  = "uint32"
	tagFloat64 = "float64"
	tagFloat32 = "float32"
	tagString  = "string"
	tagBytes   = "bytes"
	tagText    = "text"
	tagTime    = "time"
)

// EncodeKey encodes a key (the values of the copy key's columns, as
// rowcopy.Chunk's bounds hold them) as a JSON array that DecodeKey turns
// back into the same values of the same types. A nil key encodes as "null".
// It refuses a value of a type it does not know rather than store something
// a resume could not bind again.
func EncodeKey(key []any) (string, error) {
	if key == nil {
		return "null", nil
	}
	vals := make([]keyValue, len(key))
	for i, v := range key {
		kv, err := encodeValue(v)
		if err != nil {
			return "", fmt.Errorf("encode key column %d: %w", i+1, err)
		}
		vals[i] = kv
	}
	s, err := marshal(vals)
	if err != nil {
		return "", fmt.Errorf("encode key: %w", err)
	}
	return s, nil
}

// marshal is json.Marshal without the escaping of <, > and &, which is
// for HTML: the state is read by people in SELECT output.
func marshal(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func text(s string) *string { return &s }

// encodeBytes keeps valid UTF-8 as text and anything else as hexadecimal.
func encodeBytes(tag string, b []byte) keyValue {
	if utf8.Valid(b) {
		return keyValue{Type: tag, Value: text(string(b))}
	}
	return keyValue{Type: tag, Hex: text(hex.EncodeToString(b))}
}

func encodeValue(v any) (keyValue, error) {
	switch v := v.(type) {
	case nil:
		return keyValue{Type: tagNull}, nil
	case int64:
		return keyValue{Type: tagInt64, Value: text(strconv.FormatInt(v, 10))}, nil
	case int32:
		return keyValue{Type: tagInt32, Value: text(strconv.FormatInt(int64(v), 10))}, nil
	case int:
		return keyValue{Type: tagInt, Value: text(strconv.Itoa(v))}, nil
	case uint64:
		return keyValue{Type: tagUint64, Value: text(strconv.FormatUint(v, 10))}, nil
	case uint32:
		return keyValue{Type: tagUint32, Value: text(strconv.FormatUint(uint64(v), 10))}, nil
	case float64:
		// The shortest text that parses back to the same bits; NaN and
		// ±Inf are spelled as strconv spells them.
		return keyValue{Type: tagFloat64, Value: text(strconv.FormatFloat(v, 'g', -1, 64))}, nil
	case float32:
		return keyValue{Type: tagFloat32, Value: text(strconv.FormatFloat(float64(v), 'g', -1, 32))}, nil
	case string:
		return encodeBytes(tagString, []byte(v)), nil
	case []byte:
		return encodeBytes(tagBytes, v), nil
	case capture.Text:
		return encodeBytes(tagText, v), nil
	case time.Time:
		// RFC 3339 with nanoseconds keeps the instant and the offset; the
		// driver binds a time in its connection's location, so the
		// location's name is not needed.
		return keyValue{Type: tagTime, Value: text(v.Format(time.RFC3339Nano))}, nil
	}
	return keyValue{}, fmt.Errorf("a key value of type %T cannot be saved", v)
}

// DecodeKey is the inverse of EncodeKey.
func DecodeKey(s string) ([]any, error) {
	var vals []keyValue
	if err := json.Unmarshal([]byte(s), &vals); err != nil {
		return nil, fmt.Errorf("decode key %q: %w", s, err)
	}
	if vals == nil {
		return nil, nil
	}
	key := make([]any, len(vals))
	for i, kv := range vals {
		v, err := decodeValue(kv)
		if err != nil {
			return nil, fmt.Errorf("decode key column %d: %w", i+1, err)
		}
		key[i] = v
	}
	return key, nil
}

// bytesOf reads the bytes of a bytes-like value: Hex when set, else Value.
func (kv keyValue) bytesOf() ([]byte, error) {
	switch {
	case kv.Hex != nil && kv.Value != nil:
		return nil, fmt.Errorf("a %s value has both text and hexadecimal", kv.Type)
	case kv.Hex != nil:
		b, err := hex.DecodeString(*kv.Hex)
		if err != nil {
			return nil, fmt.Errorf("a %s value: %w", kv.Type, err)
		}
		return b, nil
	case kv.Value != nil:
		return []byte(*kv.Value), nil
	}
	return nil, fmt.Errorf("a %s value has no value", kv.Type)
}

func decodeValue(kv keyValue) (any, error) {
	switch kv.Type {
	case tagNull:
		return nil, nil
	case tagString, tagBytes, tagText:
		b, err := kv.bytesOf()
		if err != nil {
			return nil, err
		}
		switch kv.Type {
		case tagString:
			return string(b), nil
		case tagText:
			return capture.Text(b), nil
		}
		return b, nil
	}
	if kv.Value == nil || kv.Hex != nil {
		return nil, fmt.Errorf("a %s value must be text", kv.Type)
	}
	s := *kv.Value
	switch kv.Type {
	case tagInt64:
		return strconv.ParseInt(s, 10, 64)
	case tagInt32:
		n, err := strconv.ParseInt(s, 10, 32)
		return int32(n), err
	case tagInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil && (n < math.MinInt || n > math.MaxInt) {
			err = fmt.Errorf("%s does not fit an int", s)
		}
		return int(n), err
	case tagUint64:
		return strconv.ParseUint(s, 10, 64)
	case tagUint32:
		n, err := strconv.ParseUint(s, 10, 32)
		return uint32(n), err
	case tagFloat64:
		return strconv.ParseFloat(s, 64)
	case tagFloat32:
		f, err := strconv.ParseFloat(s, 32)
		return float32(f), err
	case tagTime:
		return time.Parse(time.RFC3339Nano, s)
	}
	return nil, fmt.Errorf("unknown key value type %q", kv.Type)
}
