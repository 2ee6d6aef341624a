package capture

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// charsetDecoder returns the conversion of a text column's stored bytes to
// UTF-8. The binary log holds text in the column's own character set, while
// the applier's sessions talk utf8mb4: a latin1 'é' is the single byte e9,
// which sent as is would be read as an invalid UTF-8 sequence. Converted to
// UTF-8 it is stored back as the same e9, because every character of these
// sets exists in utf8mb4 and converts back one to one.
func charsetDecoder(charset string) (func([]byte) (any, error), error) {
	switch strings.ToLower(charset) {
	case "utf8mb4", "utf8mb3", "utf8", "ascii", "":
		return func(b []byte) (any, error) { return string(b), nil }, nil
	case "latin1":
		return decodeLatin1, nil
	case "ucs2", "utf16":
		return utf16Decoder(binary.BigEndian), nil
	case "utf16le":
		return utf16Decoder(binary.LittleEndian), nil
	case "utf32":
		return decodeUTF32, nil
	}
	return nil, fmt.Errorf("character set %s is not supported by the binary log reader (supported: utf8mb4, utf8mb3, ascii, latin1, ucs2, utf16, utf16le, utf32)", charset)
}

// latin1High maps bytes 0x80-0x9f of the server's latin1, which is
// Windows-1252 with the five bytes that code page leaves undefined mapped to
// the C1 controls of the same number (strings/ctype-latin1.c). Bytes 0x00-0x7f
// and 0xa0-0xff are the Unicode code points of the same value.
var latin1High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

func decodeLatin1(b []byte) (any, error) {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		switch {
		case c < 0x80:
			sb.WriteByte(c)
		case c < 0xa0:
			sb.WriteRune(latin1High[c-0x80])
		default:
			sb.WriteRune(rune(c))
		}
	}
	return sb.String(), nil
}

func utf16Decoder(order binary.ByteOrder) func([]byte) (any, error) {
	return func(b []byte) (any, error) {
		if len(b)%2 != 0 {
			return nil, fmt.Errorf("UTF-16 text of odd length %d", len(b))
		}
		units := make([]uint16, len(b)/2)
		for i := range units {
			units[i] = order.Uint16(b[2*i:])
		}
		return string(utf16.Decode(units)), nil
	}
}

func decodeUTF32(b []byte) (any, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("UTF-32 text of length %d, not a multiple of 4", len(b))
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i += 4 {
		r := rune(binary.BigEndian.Uint32(b[i:]))
		if !utf8.ValidRune(r) {
			return nil, fmt.Errorf("invalid UTF-32 code point %#x", uint32(r))
		}
		sb.WriteRune(r)
	}
	return sb.String(), nil
}
