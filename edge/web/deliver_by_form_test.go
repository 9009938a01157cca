package web

import (
	"testing"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

func mustZone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// TestDeliverAt: the form's time of day is read on the building's clock,
// on the day that puts it nearest to now.
func TestDeliverAt(t *testing.T) {
	ams := mustZone(t, "Europe/Amsterdam")
	afternoon := time.Date(2026, 12, 6, 13, 5, 0, 0, time.UTC) // 14:05 in Amsterdam
	lateEvening := time.Date(2026, 12, 6, 22, 30, 0, 0, time.UTC)
	justAfterMidnight := time.Date(2026, 12, 6, 23, 30, 0, 0, time.UTC) // 00:30 on the 7th
	utc := func(day, h, m, s int) *time.Time { t := time.Date(2026, 12, day, h, m, s, 0, time.UTC); return &t }
	tests := []struct {
		name, value string
		now         time.Time
		want        *time.Time
	}{
		{"Empty", "", afternoon, nil},
		{"Blank", "  ", afternoon, nil},
		{"LaterToday", "14:30", afternoon, utc(6, 13, 30, 0)},
		{"Now", "14:05", afternoon, utc(6, 13, 5, 0)},
		{"WithSeconds", "14:30:15", afternoon, utc(6, 13, 30, 15)},
		{"JustPassedStaysToday", "14:00", afternoon, utc(6, 13, 0, 0)},
		{"TwelveHourMixUpStaysToday", "02:30", afternoon, utc(6, 1, 30, 0)},
		{"EveningToday", "23:00", afternoon, utc(6, 22, 0, 0)},
		{"EarlyTomorrow", "01:30", afternoon, utc(7, 0, 30, 0)},
		{"AfterMidnightIsTomorrow", "00:30", lateEvening, utc(6, 23, 30, 0)},
		{"BeforeMidnightIsYesterday", "23:30", justAfterMidnight, utc(6, 22, 30, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := deliverAt(tt.value, tt.now, ams)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == nil && got != nil:
				t.Fatalf("deliverAt(%q)=%v, want nil", tt.value, *got)
			case tt.want != nil && (got == nil || *got != *tt.want):
				t.Fatalf("deliverAt(%q)=%v, want %v", tt.value, got, *tt.want)
			case got != nil && (got.Sub(tt.now) >= formWindow || tt.now.Sub(*got) > formWindow):
				t.Fatalf("deliverAt(%q)=%v is not within %s of %v", tt.value, *got, formWindow, tt.now)
			}
		})
	}
	for _, bad := range []string{"24:00", "14:60", "14:3", "2:30 PM", "14.30", "1430", "14:30Z", "tomorrow", "2026-12-06T14:30:00Z", "-1:00", "14:30:00:00"} {
		t.Run("Refuses"+bad, func(t *testing.T) {
			got, err := deliverAt(bad, afternoon, ams)
			if pantry.ErrorCode(err) != pantry.EINVALID || got != nil {
				t.Fatalf("deliverAt(%q)=%v, %v; want invalid_input", bad, got, err)
			}
		})
	}
	t.Run("SummerTimeChanges", func(t *testing.T) {
		for _, now := range []time.Time{
			time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC),  // clocks go forward at 01:00 UTC
			time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), // and back
			time.Date(2026, 10, 25, 13, 0, 0, 0, time.UTC),
		} {
			for h := range 24 {
				value := time.Date(2000, 1, 1, h, 30, 0, 0, time.UTC).Format("15:04")
				got, err := deliverAt(value, now, ams)
				if err != nil {
					t.Fatal(err)
				}
				if d := got.Sub(now); d > formWindow+time.Hour || d < -formWindow-time.Hour {
					t.Errorf("at %v, %s reads as %v, %s away", now, value, *got, d)
				}
			}
		}
	})
}

func TestDeliverByText(t *testing.T) {
	ams := mustZone(t, "Europe/Amsterdam")
	placed := time.Date(2026, 12, 6, 13, 5, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := placed.Add(d); return &t }
	tests := []struct {
		name string
		o    pantry.Order
		want string
	}{
		{"None", pantry.Order{CreatedAt: placed}, ""},
		{"SameDay", pantry.Order{CreatedAt: placed, DeliverTo: pantry.DeliverRoom, DeliverBy: at(25 * time.Minute)}, "Deliver by 14:30"},
		{"Pickup", pantry.Order{CreatedAt: placed, DeliverTo: pantry.DeliverPickup, DeliverBy: at(25 * time.Minute)}, "Ready by 14:30"},
		{"NextDay", pantry.Order{CreatedAt: placed, DeliverTo: pantry.DeliverRoom, DeliverBy: at(11 * time.Hour)}, "Deliver by 01:05 on Mon 7 Dec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deliverByText(tt.o, ams); got != tt.want {
				t.Fatalf("deliverByText=%q, want %q", got, tt.want)
			}
		})
	}
}

func TestRoughly(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1 minute", 5*time.Minute + 30*time.Second: "5 minutes", 89 * time.Minute: "89 minutes",
		90 * time.Minute: "2 hours", 11*time.Hour + 20*time.Minute: "11 hours", time.Hour + 31*time.Minute: "2 hours",
	} {
		if got := roughly(d); got != want {
			t.Errorf("roughly(%s)=%q, want %q", d, got, want)
		}
	}
}
