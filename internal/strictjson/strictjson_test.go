package strictjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

type inner struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type Embedded struct {
	Extra string `json:"extra"`
}

type body struct {
	Embedded
	ExternalID string            `json:"external_id"`
	Display    string            `json:"display_name,omitempty"`
	Requester  inner             `json:"requester"`
	List       []inner           `json:"list"`
	Blobs      [][]byte          `json:"blobs"`
	Map        map[string]inner  `json:"map"`
	At         time.Time         `json:"at"`
	Ptr        *inner            `json:"ptr"`
	Any        any               `json:"any"`
	Raw        json.RawMessage   `json:"raw"`
	Labels     map[string]string `json:"labels"`
	Untagged   int
	//lint:ignore U1000 an unexported field, which the decoder must leave alone
	skipped int
	Ignored string `json:"-"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		o        Options
		err      error
	}{
		{"valid", `{"external_id":"a","requester":{"id":"x","name":"y"},"list":[{"id":"1"}],"blobs":["AAE="],` +
			`"map":{"K":{"id":"k"}},"at":"2026-11-27T12:00:00Z","ptr":{"id":"p"},"extra":"e","Untagged":3,"labels":{"a":"b","A":"c"}}`, Options{}, nil},
		{"duplicate", `{"external_id":"a","external_id":"b"}`, Options{}, ErrDuplicateKey},
		{"duplicate escaped", `{"external_id":"a","external_\u0069d":"b"}`, Options{}, ErrDuplicateKey},
		{"other case", `{"external_id":"a","EXTERNAL_ID":"b"}`, Options{}, ErrKeyCase},
		{"other case alone", `{"External_Id":"a"}`, Options{}, ErrKeyCase},
		{"other case, unknown allowed", `{"EXTERNAL_ID":"a"}`, Options{AllowUnknownFields: true}, ErrKeyCase},
		{"unicode fold", "{\"di\u017fplay_name\":\"a\"}", Options{AllowUnknownFields: true}, ErrKeyCase},
		{"kelvin fold", "{\"ran\u212A\":1, \"nested\":{}}", Options{AllowUnknownFields: true}, nil},
		{"nested other case", `{"requester":{"ID":"x"}}`, Options{}, ErrKeyCase},
		{"in list", `{"list":[{"id":"1"},{"id":"2","Name":"n"}]}`, Options{}, ErrKeyCase},
		{"in map value", `{"map":{"a":{"name":"x","NAME":"y"}}}`, Options{}, ErrKeyCase},
		{"map keys any case", `{"labels":{"k":"1","K":"2"}}`, Options{}, nil},
		{"map duplicate", `{"labels":{"k":"1","k":"2"}}`, Options{}, ErrDuplicateKey},
		{"duplicate under any", `{"any":{"a":1,"a":2}}`, Options{}, ErrDuplicateKey},
		{"duplicate under raw", `{"raw":{"a":1,"a":2}}`, Options{}, ErrDuplicateKey},
		{"embedded other case", `{"EXTRA":"e"}`, Options{}, ErrKeyCase},
		{"untagged other case", `{"untagged":1}`, Options{}, ErrKeyCase},
		{"ignored field", `{"Ignored":"x"}`, Options{}, nil}, // unknown, then refused by the decoder
		{"unknown", `{"other":1}`, Options{AllowUnknownFields: true}, nil},
		{"trailing", `{"external_id":"a"} {}`, Options{}, ErrTrailing},
		{"trailing garbage", `{"external_id":"a"}x`, Options{}, ErrTrailing},
		{"bad utf8", "{\"external_id\":\"\xff\"}", Options{}, ErrInvalidUTF8},
		{"too deep", `{"any":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`, Options{}, ErrTooDeep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v body
			err := Decode([]byte(tc.in), &v, tc.o)
			switch {
			case tc.err == nil && tc.name == "ignored field":
				if err == nil || !strings.Contains(err.Error(), "unknown field") {
					t.Fatalf("err = %v, want unknown field", err)
				}
			case tc.err == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestDecodePassesJSONErrors(t *testing.T) {
	var v body
	var syn *json.SyntaxError
	if err := Decode([]byte(`{"external_id":}`), &v, Options{}); !errors.As(err, &syn) {
		t.Errorf("syntax: %v", err)
	}
	var typ *json.UnmarshalTypeError
	if err := Decode([]byte(`{"external_id":1}`), &v, Options{}); !errors.As(err, &typ) || typ.Field != "external_id" {
		t.Errorf("type: %v", err)
	}
	if err := Decode(nil, &v, Options{}); !errors.Is(err, errEOF()) {
		t.Errorf("empty: %v", err)
	}
	if err := Decode([]byte(`{}`), v, Options{}); err == nil {
		t.Error("a non-pointer was accepted")
	}
}

// TestSameAsEncodingJSON: what Decode accepts, encoding/json decodes to
// the same value.
func TestSameAsEncodingJSON(t *testing.T) {
	in := `{"external_id":"a","requester":{"id":"x"},"list":[{"id":"1","name":"n"}],"labels":{"a":"b"}}`
	var got, want body
	if err := Decode([]byte(in), &got, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%+v != %+v", got, want)
	}
}

// The byte scanner of valid JSON and the token reader agree on the cases
// each rule is for, escapes and nesting included.
func TestScannerAgreesWithTokens(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	deeper := strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	for _, in := range []string{
		`{"external_id":"a","EXTERNAL_ID":"b"}`, `{"a":1,"\u0061":2}`, `{"a\"b":1,"a\"b":2}`, `{"x\\":1,"x\\":2}`,
		`{"requester":{"id":"x","ID":"y"}}`, `[{"id":"1"},{"ID":"2"}]`, `{"requests":[{"record":{"size":1,"size":2}}]}`,
		`{"title":"\ud800","Title":"x"}`, ` {"title" : "t" , "blinded_elements" : [ "AA==" , null ] } `,
		`{"requests":[{"request_id":"r","record":{"size":-1.5e3}}],"error":{"code":true}}`,
		deep, "[" + deep + "]", deeper, `"just a string"`, `12`, `null`, `{}`, `[]`,
	} {
		sameChecks(t, []byte(in))
	}
	var v wireLike
	if err := Decode([]byte(`{"a":1,"\u0061":2}`), &v, Options{AllowUnknownFields: true}); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("an escaped duplicate key: %v", err)
	}
	if err := Decode([]byte(deeper), &v, Options{AllowUnknownFields: true}); !errors.Is(err, ErrTooDeep) {
		t.Errorf("nesting past MaxDepth: %v", err)
	}
}
