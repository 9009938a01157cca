package mqtt

import (
	"errors"
	"testing"

	"github.com/pantry/pantry/internal/pantry"
)

// TestPublishStockChange pins the bytes tablets get when stock moves: the
// retained level, and the inventory.low alert only for the movement that
// crossed the threshold.
func TestPublishStockChange(t *testing.T) {
	b := MustServe(t, Config{})
	staff := login(t, b, "tab-s")
	staff.mustSubscribe(t, "pantry/S/alerts")

	lvl := pantry.StockLevel{ItemID: "coffee", Name: "Coffee", Level: 2, Low: true}
	if err := b.PublishStockChange("S", lvl, true); err != nil {
		t.Fatal(err)
	}
	m := staff.next(t)
	if got, want := m.Topic, "pantry/S/alerts"; got != want {
		t.Fatalf("topic=%s, want %s", got, want)
	}
	if got, want := string(m.Payload), `{"event":"inventory.low","item_id":"coffee","level":2,"name":"Coffee"}`; got != want {
		t.Fatalf("alert payload=%s, want %s", got, want)
	}
	late := login(t, b, "tab-s2")
	late.mustSubscribe(t, "pantry/S/stock/+")
	m = late.next(t)
	if got, want := m.Topic, "pantry/S/stock/coffee"; got != want || !m.Retain {
		t.Fatalf("topic=%s retain=%v, want %s retained", got, m.Retain, want)
	}
	if got, want := string(m.Payload), `{"item_id":"coffee","level":2,"low":true,"sold_out":false}`; got != want {
		t.Fatalf("stock payload=%s, want %s", got, want)
	}

	// Already low before this movement: the level changes, no new alert.
	lvl.Level = 1
	if err := b.PublishStockChange("S", lvl, false); err != nil {
		t.Fatal(err)
	}
	staff.expectOnly(t, b, "S")
}

func TestPublishStockChangeClosed(t *testing.T) {
	b := MustServe(t, Config{})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	err := b.PublishStockChange("S", pantry.StockLevel{ItemID: "coffee", Low: true}, true)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("PublishStockChange after Close=%v, want ErrClosed", err)
	}
}
