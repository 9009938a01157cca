package web_test

import (
	"testing"
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
	})
}
