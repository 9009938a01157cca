package web_test

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pantry/pantry/edge/web"
	"github.com/pantry/pantry/internal/pantry"
)

// FuzzDecodePlaceOrder feeds the attendee order decoder arbitrary bytes: it
// must never panic, and whatever it accepts must respect every bound.
func FuzzDecodePlaceOrder(f *testing.F) {
	f.Add([]byte(`{"lines":[{"item_id":"0193","quantity":2,"note":"oat milk"}],"deliver_to":"room"}`))
	f.Add([]byte(`{"lines":[{"item_id":"a","quantity":1},{"item_id":"b","quantity":100}],"coupon":"X","cost_center":"CC"}`))
	f.Add([]byte(`{"lines":[]}`))
	f.Add([]byte(`{"lines":[{"item_id":"a","quantity":1e3}]}`))
	f.Add([]byte("{\"note\":\"\xff\"}"))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"lines":[{"item_id":"a","quantity":1}],"deliver_by":"2026-12-06T14:30:00.123456789+05:30"}`))
	f.Add([]byte(`{"lines":[{"item_id":"a","quantity":1}],"deliver_by":null}`))
	f.Add([]byte(`{"lines":[{"item_id":"a","quantity":1}],"deliver_by":"14:30"}`))
	f.Add([]byte(`{"lines":[{"item_id":"a","quantity":1}],"deliver_by":1764077400}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := web.DecodePlaceOrder(body)
		if err != nil {
			if pantry.ErrorCode(err) != pantry.EINVALID {
				t.Fatalf("error without invalid_input code: %v", err)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatal("accepted invalid UTF-8")
		}
		if n := len(req.Lines); n < 1 || n > pantry.MaxLines {
			t.Fatalf("accepted %d lines", n)
		}
		for _, l := range req.Lines {
			if l.Quantity < 1 || l.Quantity > pantry.MaxQuantity || l.ItemID == "" {
				t.Fatalf("accepted line %+v", l)
			}
		}
		if req.DeliverTo != pantry.DeliverRoom && req.DeliverTo != pantry.DeliverPickup {
			t.Fatalf("accepted deliver_to %q", req.DeliverTo)
		}
		// Whether deliver_by is in range is the store's to say (it needs
		// the node's clock); the decoder hands it on in UTC, to the second.
		if at := req.DeliverBy; at != nil && (at.Location() != time.UTC || at.Nanosecond() != 0) {
			t.Fatalf("accepted deliver_by %v, want UTC whole seconds", *at)
		}
	})
}
