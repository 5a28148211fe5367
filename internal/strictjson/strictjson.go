// Package strictjson decodes JSON that two parsers cannot read differently.
// encoding/json takes the last of duplicate keys and matches keys to
// struct fields case-insensitively (by Unicode simple folding, so "ſ"
// matches "s"), where other parsers take the first key or match exactly:
// a body such as {"external_id":"a","EXTERNAL_ID":"b"} could then mean one
// thing to the server and another to a proxy, a log or a device. Decode
// refuses, at any depth: a key seen twice in one object, a key matching a
// field of the target's schema only in another case, invalid UTF-8 (which
// encoding/json silently replaces), nesting past MaxDepth, and anything
// after the one value. The server (every JSON request body) and the device
// agent (every JSON body the server sends it) both decode with it.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// Errors of Decode beyond those of encoding/json (*json.SyntaxError,
// *json.UnmarshalTypeError, io.EOF for empty input, io.ErrUnexpectedEOF,
// and an unknown-field error), which Decode returns wrapped; test with
// errors.Is and errors.As.
var (
	// ErrDuplicateKey: an object holds the same key twice (after
	// unescaping: "a" and "\u0061" are the same key).
	ErrDuplicateKey = errors.New("strictjson: duplicate key")
	// ErrKeyCase: a key matches a field of the schema only in another case.
	ErrKeyCase = errors.New("strictjson: key in another case than the schema's")
	// ErrInvalidUTF8: the input is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("strictjson: not valid UTF-8")
	// ErrTooDeep: objects and arrays nest deeper than MaxDepth.
	ErrTooDeep = errors.New("strictjson: nested too deep")
	// ErrTrailing: something other than white space follows the value.
	ErrTrailing = errors.New("strictjson: data after the JSON value")
)

// MaxDepth is the deepest nesting of objects and arrays Decode accepts.
const MaxDepth = 64

// Options adjust Decode.
type Options struct {
	// AllowUnknownFields accepts keys that match no field of the schema in
	// any case (a client reading a server that may add fields); by default
	// they are refused. Duplicate keys and keys in another case are
	// refused either way.
	AllowUnknownFields bool
}

// Decode decodes data, exactly one JSON value, into v (a non-nil pointer,
// as for json.Unmarshal) under the rules of the package doc. On error v may
// be partly filled: the caller discards it.
func Decode(data []byte, v any, o Options) error {
	if !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("strictjson: Decode needs a non-nil pointer, not %T", v)
	}
	if err := check(data, rv.Type().Elem()); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if !o.AllowUnknownFields {
		dec.DisallowUnknownFields()
	}
	// The scan above saw exactly one value and then the end, so the
	// decoder reads all of it.
	return dec.Decode(v)
}

// check applies the rules of the package doc to data, to be decoded into
// a t. Input that is one syntactically valid JSON value (json.Valid, which
// is fast) is checked by scanning its bytes (scanner), five times faster
// than reading its tokens; anything else goes through the token reader
// (checkTokens), which says where the syntax fails or that data trails.
// The two agree on every valid input (FuzzDecode checks it).
func check(data []byte, t reflect.Type) error {
	if json.Valid(data) {
		s := scanner{data: data}
		return s.value(t, 0)
	}
	return checkTokens(data, t)
}

// checkTokens is check by encoding/json's tokens.
func checkTokens(data []byte, t reflect.Type) error {
	scan := json.NewDecoder(bytes.NewReader(data))
	scan.UseNumber()
	if err := walk(scan, t, 0); err != nil {
		return err
	}
	if _, err := scan.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return fmt.Errorf("%w: %w", ErrTrailing, err)
		}
		return ErrTrailing
	}
	return nil
}

// walk reads one value from dec, checking its objects against t, the Go
// type it decodes into (nil: no schema, only duplicates are checked).
func walk(dec *json.Decoder, t reflect.Type, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	if depth >= MaxDepth {
		return ErrTooDeep
	}
	t = target(t)
	switch d {
	case '{':
		return walkObject(dec, t, depth)
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walk(dec, elem, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	}
	return fmt.Errorf("strictjson: unexpected %v", d) // the decoder never yields a closing one here
}

func walkObject(dec *json.Decoder, t reflect.Type, depth int) error {
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
	seen := make(map[string]struct{})
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		sub, err := checkKey(seen, fields, elem, key)
		if err != nil {
			return err
		}
		if err := walk(dec, sub, depth+1); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

// checkKey checks the next key of an object against the keys seen before
// in it (recording it) and against the fields of its struct type, if any,
// and returns the type its value decodes into: the field's, or elem (a
// map's values), or nil.
func checkKey(seen map[string]struct{}, fields map[string]reflect.Type, elem reflect.Type, key string) (reflect.Type, error) {
	if _, dup := seen[key]; dup {
		return nil, fmt.Errorf("%w %.64q", ErrDuplicateKey, key)
	}
	seen[key] = struct{}{}
	if fields == nil {
		return elem, nil
	}
	ft, exact := fields[key]
	if !exact {
		for name := range fields {
			if strings.EqualFold(name, key) {
				return nil, fmt.Errorf("%w: %.64q for %q", ErrKeyCase, key, name)
			}
		}
	}
	return ft, nil
}

var (
	unmarshaler     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// target is the type whose schema applies to a value decoded into t:
// pointers followed; nil for an interface or a type that decodes itself
// (its own rules apply below it; duplicates are still checked).
func target(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	if p := reflect.PointerTo(t); p.Implements(unmarshaler) || p.Implements(textUnmarshaler) {
		return nil
	}
	return t
}

var schemas sync.Map // reflect.Type -> map[string]reflect.Type

// schema returns the JSON keys of struct t as encoding/json names them,
// with the type of each field; the fields of untagged embedded structs are
// promoted, as encoding/json does.
func schema(t reflect.Type) map[string]reflect.Type {
	if m, ok := schemas.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := make(map[string]reflect.Type)
	addFields(m, t, 0)
	schemas.Store(t, m)
	return m
}

func addFields(m map[string]reflect.Type, t reflect.Type, depth int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && depth < MaxDepth {
				addFields(m, ft, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := m[name]; !taken {
			m[name] = f.Type
		}
	}
}
