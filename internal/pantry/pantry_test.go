package pantry_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

func TestCanTransition(t *testing.T) {
	all := []pantry.OrderStatus{pantry.StatusPlaced, pantry.StatusAccepted, pantry.StatusPreparing, pantry.StatusReady, pantry.StatusDelivered, pantry.StatusCancelled}
	allowed := map[[2]pantry.OrderStatus]bool{
		{pantry.StatusPlaced, pantry.StatusAccepted}:    true,
		{pantry.StatusAccepted, pantry.StatusPreparing}: true,
		{pantry.StatusPreparing, pantry.StatusReady}:    true,
		{pantry.StatusReady, pantry.StatusDelivered}:    true,
		{pantry.StatusPlaced, pantry.StatusCancelled}:   true,
		{pantry.StatusAccepted, pantry.StatusCancelled}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got, want := pantry.CanTransition(from, to), allowed[[2]pantry.OrderStatus{from, to}]; got != want {
				t.Errorf("CanTransition(%s, %s)=%v, want %v", from, to, got, want)
			}
		}
	}
}

func TestPathTo(t *testing.T) {
	const (
		placed, accepted, preparing = pantry.StatusPlaced, pantry.StatusAccepted, pantry.StatusPreparing
		ready, delivered, cancelled = pantry.StatusReady, pantry.StatusDelivered, pantry.StatusCancelled
	)
	tests := []struct {
		name   string
		status pantry.OrderStatus
		want   []pantry.OrderStatus
	}{
		{"Placed", placed, []pantry.OrderStatus{placed}},
		{"Accepted", accepted, []pantry.OrderStatus{placed, accepted}},
		{"Preparing", preparing, []pantry.OrderStatus{placed, accepted, preparing}},
		{"Ready", ready, []pantry.OrderStatus{placed, accepted, preparing, ready}},
		{"Delivered", delivered, []pantry.OrderStatus{placed, accepted, preparing, ready, delivered}},
		{"CancelledStraightFromPlaced", cancelled, []pantry.OrderStatus{placed, cancelled}},
		{"Unknown", "teleported", nil},
		{"Empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pantry.PathTo(tt.status)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("PathTo(%q)=%v, want %v", tt.status, got, tt.want)
			}
			for i := 1; i < len(got); i++ {
				if !pantry.CanTransition(got[i-1], got[i]) {
					t.Errorf("step %s -> %s is not a transition", got[i-1], got[i])
				}
			}
		})
	}
	t.Run("CallerOwnsTheSlice", func(t *testing.T) {
		p := pantry.PathTo(delivered)
		p[0] = cancelled
		if got, want := pantry.PathTo(delivered), []pantry.OrderStatus{placed, accepted, preparing, ready, delivered}; !slices.Equal(got, want) {
			t.Fatalf("PathTo(delivered)=%v after a caller changed its copy, want %v", got, want)
		}
	})
}

func TestCouponDiscount(t *testing.T) {
	tests := []struct {
		name     string
		c        pantry.Coupon
		subtotal int64
		want     int64
	}{
		{"TenPercent", pantry.Coupon{Kind: pantry.CouponPercent, Value: 10}, 1050, 105},
		{"PercentRoundsHalfUp", pantry.Coupon{Kind: pantry.CouponPercent, Value: 15}, 350, 53},
		{"HundredPercent", pantry.Coupon{Kind: pantry.CouponPercent, Value: 100}, 999, 999},
		{"OverHundredPercentCapped", pantry.Coupon{Kind: pantry.CouponPercent, Value: 150}, 999, 999},
		{"Fixed", pantry.Coupon{Kind: pantry.CouponFixed, Value: 500}, 1200, 500},
		{"FixedNeverBelowZero", pantry.Coupon{Kind: pantry.CouponFixed, Value: 500}, 300, 300},
		{"NegativeValueIgnored", pantry.Coupon{Kind: pantry.CouponFixed, Value: -5}, 300, 0},
		{"UnknownKind", pantry.Coupon{Kind: "bogus", Value: 5}, 300, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Discount(tt.subtotal); got != tt.want {
				t.Fatalf("Discount(%d)=%d, want %d", tt.subtotal, got, tt.want)
			}
		})
	}
}

func TestCouponActiveAt(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := pantry.Coupon{ValidFrom: from, ValidTo: from.Add(24 * time.Hour)}
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{{from.Add(-time.Second), false}, {from, true}, {from.Add(23 * time.Hour), true}, {from.Add(24 * time.Hour), false}} {
		if got := c.ActiveAt(tt.at); got != tt.want {
			t.Errorf("ActiveAt(%s)=%v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestMoney(t *testing.T) {
	if got, want := (pantry.Money{Amount: 1234, Currency: "EUR"}).String(), "EUR 12.34"; got != want {
		t.Errorf("String()=%q, want %q", got, want)
	}
	for _, m := range []pantry.Money{{Amount: -1, Currency: "EUR"}, {Amount: 1, Currency: "eur"}, {Amount: 1, Currency: "EURO"}, {Amount: pantry.MaxAmount + 1, Currency: "EUR"}} {
		if err := m.Validate(); pantry.ErrorCode(err) != pantry.EINVALID {
			t.Errorf("Validate(%+v)=%v, want invalid_input", m, err)
		}
	}
}

func TestPlaceOrderValidate(t *testing.T) {
	line := func(id string, q int) pantry.LineRequest { return pantry.LineRequest{ItemID: id, Quantity: q} }
	tests := []struct {
		name string
		req  pantry.PlaceOrder
		ok   bool
	}{
		{"OneLine", pantry.PlaceOrder{Lines: []pantry.LineRequest{line("a", 1)}}, true},
		{"NoLines", pantry.PlaceOrder{}, false},
		{"DuplicateItem", pantry.PlaceOrder{Lines: []pantry.LineRequest{line("a", 1), line("a", 2)}}, false},
		{"ZeroQuantity", pantry.PlaceOrder{Lines: []pantry.LineRequest{line("a", 0)}}, false},
		{"TooMany", pantry.PlaceOrder{Lines: []pantry.LineRequest{line("a", pantry.MaxQuantity+1)}}, false},
		{"BadDelivery", pantry.PlaceOrder{Lines: []pantry.LineRequest{line("a", 1)}, DeliverTo: "moon"}, false},
		{"ControlChar", pantry.PlaceOrder{Lines: []pantry.LineRequest{line("a", 1)}, Note: "a\x07"}, false},
		{"InvalidUTF8", pantry.PlaceOrder{Lines: []pantry.LineRequest{line("a", 1)}, Coupon: "\xff"}, false},
		{"NewlineInNoteIsFine", pantry.PlaceOrder{Lines: []pantry.LineRequest{line("a", 1)}, Note: "oat milk\nno sugar"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate()=%v, want ok=%v", err, tt.ok)
			}
			if err != nil && pantry.ErrorCode(err) != pantry.EINVALID {
				t.Fatalf("code=%q, want invalid_input", pantry.ErrorCode(err))
			}
		})
	}
}

func TestValidStation(t *testing.T) {
	tests := []struct {
		name, station string
		ok            bool
	}{
		{"None", "", true},
		{"Word", "drinks", true},
		{"Hyphen", "hot-food", true},
		{"Digits", "floor2", true},
		{"OneChar", "a", true},
		{"Longest", strings.Repeat("a", pantry.MaxStationLen), true},
		{"TooLong", strings.Repeat("a", pantry.MaxStationLen+1), false},
		{"Upper", "Drinks", false},
		{"Space", "hot food", false},
		{"TrailingSpace", "drinks ", false},
		{"Underscore", "hot_food", false},
		{"Slash", "drinks/bar", false},
		{"NonASCII", "café", false},
		{"Quote", `drinks"`, false},
		{"ReservedAll", pantry.StationAll, false},
		{"AllAsPrefix", "all-day", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pantry.ValidStation(tt.station); got != tt.ok {
				t.Fatalf("ValidStation(%q)=%v, want %v", tt.station, got, tt.ok)
			}
			err := pantry.CheckStation(tt.station)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckStation(%q)=%v, want ok=%v", tt.station, err, tt.ok)
			}
			if err != nil && pantry.ErrorCode(err) != pantry.EINVALID {
				t.Fatalf("code=%q, want invalid_input", pantry.ErrorCode(err))
			}
		})
	}
}

// TestMoneyString: amounts read with their currency's decimals, whatever
// the currency, and never through a float.
func TestMoneyString(t *testing.T) {
	for m, want := range map[pantry.Money]string{
		{Amount: 350, Currency: "EUR"}:              "EUR 3.50",
		{Amount: 5, Currency: "EUR"}:                "EUR 0.05",
		{Amount: 0, Currency: "EUR"}:                "EUR 0.00",
		{Amount: -1250, Currency: "EUR"}:            "EUR -12.50",
		{Amount: 350, Currency: "JPY"}:              "JPY 350",
		{Amount: -350, Currency: "JPY"}:             "JPY -350",
		{Amount: 1234, Currency: "KWD"}:             "KWD 1.234",
		{Amount: 7, Currency: "KWD"}:                "KWD 0.007",
		{Amount: 12345, Currency: "CLF"}:            "CLF 1.2345",
		{Amount: 199, Currency: "XYZ"}:              "XYZ 1.99", // unlisted: two decimals
		{Amount: pantry.MaxAmount, Currency: "USD"}: "USD 100000000.00",
	} {
		if got := m.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", m, got, want)
		}
	}
}

func TestMoneyMajor(t *testing.T) {
	for _, tc := range []struct {
		m    pantry.Money
		want string
	}{
		{pantry.Money{Amount: 0, Currency: "EUR"}, "0.00"},
		{pantry.Money{Amount: 5, Currency: "EUR"}, "0.05"},
		{pantry.Money{Amount: 99, Currency: "EUR"}, "0.99"},
		{pantry.Money{Amount: 100, Currency: "EUR"}, "1.00"},
		{pantry.Money{Amount: 123456789, Currency: "USD"}, "1234567.89"},
		{pantry.Money{Amount: -1, Currency: "EUR"}, "-0.01"},
		{pantry.Money{Amount: 1250, Currency: "JPY"}, "1250"},
		{pantry.Money{Amount: 1, Currency: "BHD"}, "0.001"},
		{pantry.Money{Amount: 9223372036854775807, Currency: "EUR"}, "92233720368547758.07"},
	} {
		if got := tc.m.Major(); got != tc.want {
			t.Errorf("%v.Major() = %q, want %q", tc.m, got, tc.want)
		}
	}
}
