package httpx_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
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
	At    *time.Time        `json:"at"`
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
		{"Time", `{"at":"2026-11-25T14:30:00+01:00"}`, true},
		{"TimeNull", `{"at":null}`, true},
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

// TestDecodeJSONTimeErrors: a time that is not RFC 3339 gets a message
// that says what a time looks like, not Go's layout string.
func TestDecodeJSONTimeErrors(t *testing.T) {
	for name, body := range map[string]string{
		"NotATime":  `{"at":"tomorrow"}`,
		"NoOffset":  `{"at":"2026-11-25T14:30:00"}`,
		"NoDate":    `{"at":"14:30"}`,
		"BadHour":   `{"at":"2026-11-25T25:30:00Z"}`,
		"Number":    `{"at":1764077400}`,
		"Bool":      `{"at":true}`,
		"Object":    `{"at":{}}`,
		"EmptyText": `{"at":""}`,
	} {
		t.Run(name, func(t *testing.T) {
			var v sample
			err := httpx.DecodeJSON([]byte(body), &v)
			if got, want := pantry.ErrorCode(err), pantry.EINVALID; got != want {
				t.Fatalf("code=%q (%v), want %q", got, err, want)
			}
			msg := pantry.ErrorMessage(err)
			if !strings.Contains(msg, "RFC 3339") || strings.Contains(msg, "2006") {
				t.Fatalf("message=%q, want it to ask for RFC 3339 without Go's layout", msg)
			}
		})
	}
}

// FuzzDecodeJSON: the shared decoder behind every JSON route never panics,
// and what it accepts is valid UTF-8 JSON.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":2,"price":{"amount":1,"currency":"EUR"},"tags":["x"]}`, `{}`, `[`, "{\"name\":\"\xff\"}", `{"extra":{"a":"b"}}`, `{"at":"2026-11-25T14:30:00Z"}`, `{"at":"24:00"}`} {
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
