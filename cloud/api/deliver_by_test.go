package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// placedEvent is an order.placed an edge pushes: one coffee in A's room,
// with deliver_by if at is set.
func (f syncFixture) placedEvent(t *testing.T, seq int64, at *time.Time) (syncproto.Event, string) {
	t.Helper()
	id := pantry.NewID()
	now := time.Now().UTC().Truncate(time.Second)
	eur := func(n int64) syncproto.Money { return syncproto.Money{Amount: n, Currency: "EUR"} }
	payload, err := json.Marshal(syncproto.OrderPlaced{ID: id, SiteID: f.a.site, SpaceID: f.a.space, Status: "placed",
		Lines:     []syncproto.OrderLine{{ItemID: f.a.item, Name: "Coffee", Quantity: 1, UnitPrice: eur(350), LineTotal: eur(350)}},
		DeliverTo: "room", Subtotal: eur(350), Discount: eur(0), Total: eur(350), Payment: "complimentary", CatalogRev: 1,
		CreatedAt: now, UpdatedAt: now, DeliverBy: at})
	if err != nil {
		t.Fatal(err)
	}
	return syncproto.Event{Seq: seq, ID: pantry.NewID(), Type: syncproto.EventOrderPlaced, Schema: syncproto.EventSchema,
		EntityID: id, Payload: payload, CreatedAt: now}, id
}

// TestOrdersAPIDeliverBy: an order an edge pushed with a deliver_by is
// listed and read back with it ("deliver_by", RFC 3339 in UTC); one
// without has no deliver_by key at all.
func TestOrdersAPIDeliverBy(t *testing.T) {
	f := newSyncFixture(t)
	at := time.Now().Add(time.Hour).Truncate(time.Second).In(time.FixedZone("", 2*3600))
	want := at.UTC().Format(time.RFC3339)
	timed, timedID := f.placedEvent(t, 1, &at)
	asap, asapID := f.placedEvent(t, 2, nil)
	r := f.push(t, []syncproto.Event{timed, asap})
	must(t, r, 200, "push")
	var ack syncproto.PushResponse
	r.Decode(t, &ack)
	if ack.AppliedSeq != 2 || len(ack.DeadLettered) != 0 {
		t.Fatalf("ack %+v, want both applied", ack)
	}

	deliverBy := func(t *testing.T, raw json.RawMessage) (string, bool) {
		t.Helper()
		var o map[string]json.RawMessage
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		v, ok := o["deliver_by"]
		var s string
		if ok {
			if err := json.Unmarshal(v, &s); err != nil {
				t.Fatalf("deliver_by is %s, want a string", v)
			}
		}
		return s, ok
	}
	t.Run("GetOrder", func(t *testing.T) {
		r := f.s.Do(t, "GET", "/api/v1/orders/"+timedID, f.token, nil)
		must(t, r, 200, "get order")
		if got, ok := deliverBy(t, r.Body); !ok || got != want {
			t.Fatalf("deliver_by=%q (present %v), want %q: %s", got, ok, want, r.Body)
		}
		r = f.s.Do(t, "GET", "/api/v1/orders/"+asapID, f.token, nil)
		must(t, r, 200, "get order")
		if strings.Contains(string(r.Body), "deliver_by") {
			t.Fatalf("an order without deliver_by mentions it: %s", r.Body)
		}
	})
	t.Run("ListOrders", func(t *testing.T) {
		r := f.s.Do(t, "GET", "/api/v1/orders?site_id="+f.a.site, f.token, nil)
		must(t, r, http.StatusOK, "list orders")
		var page struct {
			Orders []json.RawMessage `json:"orders"`
		}
		r.Decode(t, &page)
		seen := 0
		for _, raw := range page.Orders {
			var o struct{ ID string }
			json.Unmarshal(raw, &o)
			got, ok := deliverBy(t, raw)
			switch o.ID {
			case timedID:
				seen++
				if got != want {
					t.Errorf("listed deliver_by=%q, want %q", got, want)
				}
			case asapID:
				seen++
				if ok {
					t.Errorf("listed order without deliver_by has %q", got)
				}
			}
		}
		if seen != 2 {
			t.Fatalf("the list has %d of the 2 pushed orders: %s", seen, r.Body)
		}
	})
}
