package strictjson

import (
	"encoding/json"
	"errors"
	"reflect"
)

// scanner walks the bytes of input that json.Valid accepted, applying the
// same checks as walk: a key twice in one object, a key matching a schema
// field only in another case, nesting past MaxDepth. The syntax being
// known good, it only has to find where strings, objects and arrays begin
// and end; it still never reads past the input (errScan), so that a
// mistake here is an error, not a panic.
type scanner struct {
	data []byte
	i    int
}

// errScan: the scanner met a byte valid JSON cannot hold there; it does not
// happen after json.Valid.
var errScan = errors.New("strictjson: unexpected byte")

// peek returns the next byte after white space, 0 at the end.
func (s *scanner) peek() byte {
	for s.i < len(s.data) {
		switch c := s.data[s.i]; c {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return c
		}
	}
	return 0
}

// value scans one value, whose objects decode into t.
func (s *scanner) value(t reflect.Type, depth int) error {
	switch s.peek() {
	case '{', '[':
		if depth >= MaxDepth {
			return ErrTooDeep
		}
		if s.data[s.i] == '{' {
			return s.object(target(t), depth)
		}
		return s.array(target(t), depth)
	case '"':
		_, _, err := s.str()
		return err
	case 0:
		return errScan
	}
	// A number or a literal: it ends where the enclosing value goes on.
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r', ',', ']', '}':
			return nil
		}
		s.i++
	}
	return nil
}

func (s *scanner) object(t reflect.Type, depth int) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = schema(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	s.i++ // '{'
	if s.peek() == '}' {
		s.i++
		return nil
	}
	seen := make(map[string]struct{})
	for {
		if s.peek() != '"' {
			return errScan
		}
		raw, escaped, err := s.str()
		if err != nil {
			return err
		}
		key := string(raw[1 : len(raw)-1])
		if escaped {
			// encoding/json's own unquoting, so that "\u0061" is "a" here
			// as it is to the decoder.
			if err := json.Unmarshal(raw, &key); err != nil {
				return err
			}
		}
		sub, err := checkKey(seen, fields, elem, key)
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return errScan
		}
		s.i++
		if err := s.value(sub, depth+1); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errScan
		}
	}
}

func (s *scanner) array(t reflect.Type, depth int) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	s.i++ // '['
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := s.value(elem, depth+1); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errScan
		}
	}
}

// str scans the string at s.i and returns it with its quotes, and whether
// it holds an escape.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	start := s.i
	for j := start + 1; j < len(s.data); j++ {
		switch s.data[j] {
		case '\\':
			escaped = true
			j++ // the escaped byte; \uXXXX's hex digits are neither '"' nor '\'
		case '"':
			s.i = j + 1
			return s.data[start:s.i], escaped, nil
		}
	}
	return nil, false, errScan
}
