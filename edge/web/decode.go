package web

import (
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

// decodeJSON is the strict decoder every JSON route uses.
func decodeJSON(body []byte, v any) error { return httpx.DecodeJSON(body, v) }

// DecodePlaceOrder decodes and validates an order request. It is the
// decoder that faces every attendee's phone, so it is fuzzed.
func DecodePlaceOrder(body []byte) (pantry.PlaceOrder, error) {
	var req pantry.PlaceOrder
	if err := decodeJSON(body, &req); err != nil {
		return req, err
	}
	return req, req.Validate()
}
