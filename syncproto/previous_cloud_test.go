package syncproto

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// orderPlacedBeforeDeliverBy is OrderPlaced as a cloud released before
// deliver_by (changelog, 2026-12-06) declares it: field for field today's
// type without DeliverBy.
type orderPlacedBeforeDeliverBy struct {
	ID           string      `json:"id"`
	SiteID       string      `json:"site_id"`
	SpaceID      string      `json:"space_id"`
	SessionID    string      `json:"session_id,omitempty"`
	Status       string      `json:"status"`
	Lines        []OrderLine `json:"lines"`
	Note         string      `json:"note"`
	DeliverTo    string      `json:"deliver_to"`
	Subtotal     Money       `json:"subtotal"`
	Discount     Money       `json:"discount"`
	Total        Money       `json:"total"`
	Coupon       string      `json:"coupon,omitempty"`
	CostCenter   string      `json:"cost_center,omitempty"`
	Payment      string      `json:"payment"`
	CatalogRev   int64       `json:"catalog_revision"`
	CancelReason string      `json:"cancel_reason,omitempty"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
}

// validate is that cloud's validation, which is today's for every field
// it knows.
func (o *orderPlacedBeforeDeliverBy) validate() error {
	today := o.today()
	return today.validate()
}

// today is o as today's type holds it: with no DeliverBy.
func (o orderPlacedBeforeDeliverBy) today() OrderPlaced {
	return OrderPlaced{ID: o.ID, SiteID: o.SiteID, SpaceID: o.SpaceID, SessionID: o.SessionID, Status: o.Status,
		Lines: o.Lines, Note: o.Note, DeliverTo: o.DeliverTo, Subtotal: o.Subtotal, Discount: o.Discount, Total: o.Total,
		Coupon: o.Coupon, CostCenter: o.CostCenter, Payment: o.Payment, CatalogRev: o.CatalogRev,
		CancelReason: o.CancelReason, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

// TestOlderCloudReadsDeliverBy: an edge that sends deliver_by may push to
// a cloud from before it. That cloud decodes order.placed with the same
// code (decodeValid, which ignores unknown fields) into its own type: the
// event is applied, not dead-lettered, and every field it knows has the
// value the edge sent. Only deliver_by is lost, which is why the
// changelog says to upgrade the cloud first.
func TestOlderCloudReadsDeliverBy(t *testing.T) {
	var e Event
	for _, ev := range events() {
		if ev.Type == EventOrderPlaced {
			e = ev
		}
	}
	if !strings.Contains(string(e.Payload), `"deliver_by":"2026-11-25T10:30:00Z"`) {
		t.Fatalf("the golden order.placed has no deliver_by to test with: %s", e.Payload)
	}
	var today OrderPlaced
	if err := json.Unmarshal(e.Payload, &today); err != nil {
		t.Fatal(err)
	}

	var old orderPlacedBeforeDeliverBy
	if err := decodeValid(e, &old); err != nil {
		t.Fatalf("a cloud from before deliver_by refuses the event: %v", err)
	}
	want := today
	want.DeliverBy = nil
	if got := old.today(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the older cloud reads\n%+v\nwant\n%+v", got, want)
	}

	t.Run("WithoutDeliverByTheBytesAreUnchanged", func(t *testing.T) {
		asap := today
		asap.DeliverBy = nil
		if got, want := string(raw(asap)), string(raw(old)); got != want {
			t.Fatalf("an order for as soon as possible encodes as\n%s\nwant, as before deliver_by,\n%s", got, want)
		}
	})
}
