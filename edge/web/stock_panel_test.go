package web_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/mqtt"
	"github.com/pantry/pantry/internal/pantry"
)

// stockRow is an item's row of GET /api/v1/staff/stock.
func stockRow(tb testing.TB, n *edgetest.Node, staff, itemID string) pantry.StockLevel {
	tb.Helper()
	var st struct{ Items []pantry.StockLevel }
	n.Do(tb, "GET", "/api/v1/staff/stock", staff, nil).Decode(tb, &st)
	for _, l := range st.Items {
		if l.ItemID == itemID {
			return l
		}
	}
	tb.Fatalf("no stock row for %s", itemID)
	return pantry.StockLevel{}
}

// TestStaffStockCount: staff give the level they counted, and the edge
// records the difference as one count movement, in the outbox for the
// cloud; a count that matches the ledger moves nothing; every tablet
// hears the new level.
func TestStaffStockCount(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	staff := n.StaffToken(t)
	token := n.Session(t, 0)
	platter := itemID(t, n, token, "Sandwich platter")
	tab, err := edgetest.Connect(t, n.MQTTAddr().String(), n.Demo.Tablet.Username, n.Demo.Tablet.Password)
	if err != nil {
		t.Fatal(err)
	}
	tab.Subscribe(t, "pantry/"+n.Demo.SiteID+"/stock/"+platter)
	before := stockRow(t, n, staff, platter).Level

	count := func(level int64) (int, pantry.StockLevel) {
		r := n.Do(t, "POST", "/api/v1/staff/stock/movements", staff, map[string]any{"item_id": platter, "reason": "count", "level": level})
		var l pantry.StockLevel
		if r.Status < 300 {
			r.Decode(t, &l)
		}
		return r.Status, l
	}
	seq := func() int64 {
		st, err := n.Store().OutboxStats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.LastSeq
	}
	s0 := seq()
	if status, l := count(before + 4); status != http.StatusCreated || l.Level != before+4 {
		t.Fatalf("count %d: %d %+v, want 201 and the level counted", before+4, status, l)
	}
	if s := seq(); s != s0+1 {
		t.Errorf("a count wrote %d outbox events, want 1 (stock.moved)", s-s0)
	}
	tab.Await(t, "the tablet hears the counted level", func(m edgetest.Message) bool {
		var sm mqtt.StockMessage
		return json.Unmarshal(m.Payload, &sm) == nil && sm.Level == before+4
	})
	if status, l := count(before + 4); status != http.StatusOK || l.Level != before+4 {
		t.Fatalf("the same count again: %d %+v, want 200 and the level unchanged", status, l)
	}
	if s := seq(); s != s0+1 {
		t.Errorf("a count that matched the ledger wrote %d more outbox events, want 0", s-s0-1)
	}
	if status, l := count(0); status != http.StatusCreated || l.Level != 0 || !l.Low {
		t.Fatalf("count 0: %d %+v, want 201, level 0 and low", status, l)
	}
	bad, err := n.Store().LedgerMismatches(t.Context())
	if err != nil || len(bad) != 0 {
		t.Fatalf("ledger mismatches after counts: %v %v", bad, err)
	}
}

// TestStaffStockSoldOutSwitch: marking an item sold out, then back, shows
// on the stock list and on every tablet's retained stock topic, and the
// attendee's menu follows.
func TestStaffStockSoldOutSwitch(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	staff := n.StaffToken(t)
	token := n.Session(t, 0)
	tea := itemID(t, n, token, "Green tea")
	tab, err := edgetest.Connect(t, n.MQTTAddr().String(), n.Demo.Tablet.Username, n.Demo.Tablet.Password)
	if err != nil {
		t.Fatal(err)
	}
	tab.Subscribe(t, "pantry/"+n.Demo.SiteID+"/stock/"+tea)
	heard := func(soldOut bool) {
		t.Helper()
		tab.Await(t, "the tablet hears sold_out="+map[bool]string{true: "true", false: "false"}[soldOut], func(m edgetest.Message) bool {
			var raw map[string]any
			return json.Unmarshal(m.Payload, &raw) == nil && raw["sold_out"] == soldOut
		})
	}
	menuAvailable := func() bool {
		var menu struct {
			Items []struct {
				ID        string
				Available bool
			}
		}
		n.Do(t, "GET", "/api/v1/menu", token, nil).Decode(t, &menu)
		for _, it := range menu.Items {
			if it.ID == tea {
				return it.Available
			}
		}
		t.Fatalf("green tea is not on the menu")
		return false
	}
	for _, soldOut := range []bool{true, false} {
		r := n.Do(t, "POST", "/api/v1/staff/items/"+tea+"/availability", staff, map[string]any{"available": !soldOut, "action_id": pantry.NewID()})
		if r.Status != http.StatusOK {
			t.Fatalf("availability: %d %s", r.Status, r.Body)
		}
		heard(soldOut)
		if got := stockRow(t, n, staff, tea).SoldOut; got != soldOut {
			t.Errorf("the stock list says sold_out=%v, want %v", got, soldOut)
		}
		if got := menuAvailable(); got == soldOut {
			t.Errorf("the menu says available=%v after sold_out=%v", got, soldOut)
		}
	}
}

// TestStaffStockCountRefusals: counts that make no sense are refused with
// the documented error, and change nothing.
func TestStaffStockCountRefusals(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	staff := n.StaffToken(t)
	coffee := itemID(t, n, n.Session(t, 0), "Espresso")
	for _, tc := range []struct {
		name string
		body any
	}{
		{"NegativeLevel", map[string]any{"item_id": coffee, "reason": "count", "level": -1}},
		{"AbsurdLevel", map[string]any{"item_id": coffee, "reason": "count", "level": int64(1) << 40}},
		{"LevelWithRestock", map[string]any{"item_id": coffee, "reason": "restock", "level": 5}},
		{"LevelWithWaste", map[string]any{"item_id": coffee, "reason": "waste", "level": 5}},
		{"LevelAndDelta", map[string]any{"item_id": coffee, "reason": "count", "level": 5, "delta": 2}},
		{"LevelNotANumber", `{"item_id":"` + coffee + `","reason":"count","level":"ten"}`},
		{"LevelFraction", `{"item_id":"` + coffee + `","reason":"count","level":2.5}`},
		{"UnknownItem", map[string]any{"item_id": pantry.NewID(), "reason": "count", "level": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t, n)
			r := n.Do(t, "POST", "/api/v1/staff/stock/movements", staff, tc.body)
			if r.Status != http.StatusBadRequest || r.ErrorCode() != pantry.EINVALID {
				t.Fatalf("%d %s, want 400 invalid", r.Status, r.Body)
			}
			if after := state(t, n); after != before {
				t.Fatalf("state changed:\n before %s\n after  %s", before, after)
			}
		})
	}
}
