package strictjson

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func errEOF() error { return io.EOF }

// FuzzDecode: Decode never panics; what it accepts encoding/json decodes
// to the same value; and it never accepts a body whose objects hold a key
// twice or a schema key in another case. Seeded with real wire bodies.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"external_id":"p-17","display_name":"Ada"}`,
		`{"title":"MRI","content_type":"application/dicom","purpose":"lab results"}`,
		`{"enrollment_code":"ABCDE-FGHIJ-KLMNO-PQRST","device_name":"phone","oprf_public_key":"AAAA","signing_public_key":"AAAA"}`,
		`{"decision":"approve","evaluated_elements":["AAAA"],"proof":"AAAA","signature":"AAAA"}`,
		`{"requests":[{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa","kind":"create","requester":{"id":"cli_x","name":"clinic"},"record":{"title":"t","size":3},"blinded_elements":["AAAA"],"expires_at":"2026-11-27T12:00:00Z"}]}`,
		`{"error":{"code":"rate_limited","message":"slow down"}}`,
		`{"external_id":"a","EXTERNAL_ID":"b"}`,
		`{"a":1,"a":2}`,
		`{"requester":{"id":"x","ID":"y"}}`,
		`[{"id":"1"},{"ID":"2"}]`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, allowUnknown bool) {
		sameChecks(t, data)
		var got wireLike
		if Decode(data, &got, Options{AllowUnknownFields: allowUnknown}) != nil {
			return
		}
		var want wireLike
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %+v, encoding/json %+v", got, want)
		}
		var tree any
		if err := json.Unmarshal(data, &tree); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(data) {
			t.Fatal("accepted invalid UTF-8")
		}
		checkTree(t, data)
	})
}

// wireLike has the shapes the wire uses: nested structs, lists, bytes.
type wireLike struct {
	ExternalID string   `json:"external_id"`
	Title      string   `json:"title"`
	Blinded    [][]byte `json:"blinded_elements"`
	Requester  struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"requester"`
	Requests []struct {
		RequestID string `json:"request_id"`
		Record    struct {
			Size int64 `json:"size"`
		} `json:"record"`
	} `json:"requests"`
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

// checkTree fails if any object in data holds a duplicate key, read
// token by token.
func checkTree(t *testing.T, data []byte) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	var stack []map[string]bool
	expectKey := []bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, map[string]bool{})
				expectKey = append(expectKey, true)
			case '[':
				stack = append(stack, nil)
				expectKey = append(expectKey, false)
			default:
				stack, expectKey = stack[:len(stack)-1], expectKey[:len(expectKey)-1]
				if len(expectKey) > 0 && stack[len(stack)-1] != nil {
					expectKey[len(expectKey)-1] = true
				}
			}
			continue
		case string:
			if n := len(stack); n > 0 && stack[n-1] != nil && expectKey[n-1] {
				if stack[n-1][v] {
					t.Fatalf("accepted duplicate key %q", v)
				}
				stack[n-1][v] = true
				expectKey[n-1] = false
				continue
			}
		}
		if n := len(stack); n > 0 && stack[n-1] != nil {
			expectKey[n-1] = true
		}
	}
}

// sameChecks fails if the byte scanner and the token reader judge valid
// JSON data differently, for a schema and for none.
func sameChecks(t *testing.T, data []byte) {
	if !json.Valid(data) {
		return
	}
	for _, ty := range []reflect.Type{reflect.TypeFor[wireLike](), reflect.TypeFor[[]wireLike](), reflect.TypeFor[map[string]wireLike](), nil} {
		s := scanner{data: data}
		fast, slow := s.value(ty, 0), checkTokens(data, ty)
		if fmt.Sprint(fast) != fmt.Sprint(slow) {
			t.Fatalf("into %v: the scanner says %v, the token reader %v", ty, fast, slow)
		}
	}
}
