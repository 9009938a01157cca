package httpx_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

type sample struct {
	Name  string            `json:"name"`
	Count int               `json:"count"`
	Price *pantry.Money     `json:"price"`
	Tags  []string          `json:"tags"`
	Extra map[string]string `json:"extra"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"Object", `{"name":"a","count":2}`, true},
		{"Empty", ``, false},
		{"Whitespace", "  \n", false},
		{"Array", `[]`, false},
		{"UnknownField", `{"nmae":"a"}`, false},
		{"WrongType", `{"count":"2"}`, false},
		{"Overflow", `{"count":1e400}`, false},
		{"Trailing", `{"name":"a"} {}`, false},
		{"TrailingGarbage", `{"name":"a"}x`, false},
		{"Truncated", `{"name":"a"`, false},
		{"InvalidUTF8", "{\"name\":\"\xff\"}", false},
		{"Null", `null`, true}, // decodes to the zero value; validation decides
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v sample
			err := httpx.DecodeJSON([]byte(tt.body), &v)
			if (err == nil) != tt.ok {
				t.Fatalf("err=%v, want ok=%v", err, tt.ok)
			}
			if err != nil && pantry.ErrorCode(err) != pantry.EINVALID {
				t.Fatalf("code=%q, want invalid_input", pantry.ErrorCode(err))
			}
		})
	}
}

// FuzzDecodeJSON: the shared decoder behind every JSON route never panics,
// and what it accepts is valid UTF-8 JSON.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":2,"price":{"amount":1,"currency":"EUR"},"tags":["x"]}`, `{}`, `[`, "{\"name\":\"\xff\"}", `{"extra":{"a":"b"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v sample
		if err := httpx.DecodeJSON(body, &v); err != nil {
			if pantry.ErrorCode(err) != pantry.EINVALID {
				t.Fatalf("error without invalid_input: %v", err)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted %q", body)
		}
	})
}
