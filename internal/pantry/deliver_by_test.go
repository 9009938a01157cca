package pantry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

func TestCheckDeliverBy(t *testing.T) {
	now := time.Date(2026, 12, 6, 13, 0, 30, 500, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := []struct {
		name      string
		deliverBy *time.Time
		want      string // a part of the error message; "" for none
	}{
		{"None", nil, ""},
		{"Now", at(0), ""},
		{"InHalfAnHour", at(30 * time.Minute), ""},
		{"JustPastWithinSkew", at(-pantry.DeliverBySkew + time.Second), ""},
		{"AtTheSkew", at(-pantry.DeliverBySkew), ""},
		{"PastTheSkew", at(-pantry.DeliverBySkew - time.Second), "has passed"},
		{"YesterdayAtThisTime", at(-24 * time.Hour), "has passed"},
		{"ZeroTime", &time.Time{}, "has passed"},
		{"AtTheLimit", at(pantry.MaxDeliverAhead), ""},
		{"PastTheLimit", at(pantry.MaxDeliverAhead + time.Second), "more than 24 hours ahead"},
		{"NextYear", at(365 * 24 * time.Hour), "more than 24 hours ahead"},
		{"OtherZone", func() *time.Time { t := now.Add(time.Hour).In(time.FixedZone("UTC+5", 5*3600)); return &t }(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := pantry.PlaceOrder{Lines: []pantry.LineRequest{{ItemID: "a", Quantity: 1}}, DeliverBy: tt.deliverBy}
			if err := req.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			err := req.CheckDeliverBy(now)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckDeliverBy: %v, want nil", err)
				}
				return
			}
			if got := pantry.ErrorCode(err); got != pantry.EINVALID {
				t.Fatalf("code=%q (%v), want %q", got, err, pantry.EINVALID)
			}
			if got := pantry.ErrorMessage(err); !strings.Contains(got, tt.want) || !strings.Contains(got, "deliver_by") {
				t.Fatalf("message=%q, want it to name deliver_by and say %q", got, tt.want)
			}
		})
	}
}

// TestValidateNormalisesDeliverBy: the edge and the cloud keep a
// deliver-by time in UTC to the second, whatever the client sent.
func TestValidateNormalisesDeliverBy(t *testing.T) {
	sent := time.Date(2026, 12, 6, 15, 30, 0, 999_999_999, time.FixedZone("CET", 3600))
	req := pantry.PlaceOrder{Lines: []pantry.LineRequest{{ItemID: "a", Quantity: 1}}, DeliverBy: &sent}
	if err := req.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := *req.DeliverBy, time.Date(2026, 12, 6, 14, 30, 0, 0, time.UTC); got != want {
		t.Fatalf("DeliverBy=%v, want %v", got, want)
	}
	if got, want := sent.Nanosecond(), 999_999_999; got != want {
		t.Fatalf("Validate changed the caller's time: nanoseconds %d, want %d", got, want)
	}
}
