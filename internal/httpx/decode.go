package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pantry/pantry/internal/pantry"
)

// DecodeJSON strictly decodes one JSON object into v: valid UTF-8 only
// (encoding/json would silently replace bad bytes), no unknown fields (a
// misspelled "quantitiy" must fail loudly, not order one of something), no
// trailing data. Errors are invalid_input with a message safe to show.
func DecodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return pantry.Errorf(pantry.EINVALID, "the request body must be a JSON object")
	}
	if !utf8.Valid(body) {
		return pantry.Errorf(pantry.EINVALID, "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return pantry.Errorf(pantry.EINVALID, "malformed JSON: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return pantry.Errorf(pantry.EINVALID, "malformed JSON: unexpected data after the object")
	}
	return nil
}

// timeFormatHint says what a time field takes. encoding/json does not
// say which field a time.Time refused, so the hint names none.
const timeFormatHint = `a time must be an RFC 3339 string with its offset, such as "2026-11-25T14:30:00+01:00"`

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var pe *time.ParseError
	switch {
	case errors.As(err, &pe):
		return timeFormatHint
	case strings.HasPrefix(err.Error(), "Time.UnmarshalJSON:"): // a number, object or array where a time goes
		return timeFormatHint
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
		}
		return fmt.Sprintf("expected %s", te.Type)
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return "cannot decode the request body"
}
