package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/web"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/testclock"
)

func TestParseEscalations(t *testing.T) {
	t.Parallel()
	def := web.DefaultEscalations()
	for _, tc := range []struct {
		name, in string
		want     map[string]web.Escalation // stations that must differ from or equal the default
		err      string
	}{
		{"Empty", "", map[string]web.Escalation{"drinks": def["drinks"], "food": def["food"], "": def[""]}, ""},
		{"DefaultsRoundTrip", def.String(), map[string]web.Escalation{"drinks": def["drinks"], "food": def["food"], "": def[""]}, ""},
		{"OneStationKeepsTheOthers", "drinks=3m/6m", map[string]web.Escalation{"drinks": {3 * time.Minute, 6 * time.Minute, 3 * time.Minute}, "food": def["food"]}, ""},
		{"NewStationAndOthers", " bar = 2m / 4m , *=7m/20m", map[string]web.Escalation{"bar": {2 * time.Minute, 4 * time.Minute, 2 * time.Minute}, "": {7 * time.Minute, 20 * time.Minute, 7 * time.Minute}}, ""},
		{"Hours", "catering=1h/2h30m/3h", map[string]web.Escalation{"catering": {time.Hour, 150 * time.Minute, 3 * time.Hour}}, ""},
		{"DueBadDuration", "drinks=5m/10m/soon", nil, "due"},
		{"DueTooShort", "drinks=5m/10m/10s", nil, "between 1m and 24h"},
		{"NoEquals", "drinks 5m/10m", nil, "want STATION=AMBER/RED[/DUE]"},
		{"NoSlash", "drinks=5m", nil, "want STATION=AMBER/RED[/DUE]"},
		{"NotADuration", "drinks=five/10m", nil, "amber"},
		{"RedNotADuration", "drinks=5m/ten", nil, "red"},
		{"RedBeforeAmber", "drinks=10m/5m", nil, "red later than amber"},
		{"RedEqualsAmber", "drinks=5m/5m", nil, "red later than amber"},
		{"AmberUnderAMinute", "drinks=30s/5m", nil, "at least 1m"},
		{"NegativeAmber", "drinks=-5m/5m", nil, "at least 1m"},
		{"RedPastADay", "drinks=5m/25h", nil, "at most 24h"},
		{"StationAll", "all=5m/10m", nil, "not a station name"},
		{"BadStationName", "<b>=5m/10m", nil, "not a station name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := web.ParseEscalations(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseEscalations(%q) = %v, %v; want an error saying %q", tc.in, es, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEscalations(%q): %v", tc.in, err)
			}
			for st, want := range tc.want {
				if es[st] != want {
					t.Errorf("station %q: %v, want %v", st, es[st], want)
				}
			}
		})
	}
}

// TestEscalationForOrder: a station's tablet uses the station's times; the
// "all" tablet uses the earliest of the order's lines' stations, and
// stations nobody configured use "*".
func TestEscalationForOrder(t *testing.T) {
	t.Parallel()
	es, err := web.ParseEscalations("drinks=2m/4m,food=10m/15m/20m,*=6m/12m")
	if err != nil {
		t.Fatal(err)
	}
	order := func(stations ...string) pantry.Order {
		var o pantry.Order
		for _, s := range stations {
			o.Lines = append(o.Lines, pantry.OrderLine{Station: s})
		}
		return o
	}
	for _, tc := range []struct {
		name    string
		o       pantry.Order
		station string
		want    web.Escalation
	}{
		{"DrinksTablet", order("drinks", "food"), "drinks", web.Escalation{2 * time.Minute, 4 * time.Minute, 2 * time.Minute}},
		{"FoodTablet", order("drinks", "food"), "food", web.Escalation{10 * time.Minute, 15 * time.Minute, 20 * time.Minute}},
		{"AllMixedTakesTheEarliestAndTheLongestLead", order("food", "drinks"), pantry.StationAll, web.Escalation{2 * time.Minute, 4 * time.Minute, 20 * time.Minute}},
		{"AllFoodOnly", order("food"), pantry.StationAll, web.Escalation{10 * time.Minute, 15 * time.Minute, 20 * time.Minute}},
		{"AllNoStationLine", order("", "food"), pantry.StationAll, web.Escalation{6 * time.Minute, 12 * time.Minute, 20 * time.Minute}},
		{"UnknownStationTablet", order("bar"), "bar", web.Escalation{6 * time.Minute, 12 * time.Minute, 6 * time.Minute}},
		{"AllNoLines", order(), pantry.StationAll, web.Escalation{6 * time.Minute, 12 * time.Minute, 6 * time.Minute}},
	} {
		if got := es.ForOrder(tc.o, tc.station); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestStaffPageEscalatesByStation: with drinks configured to turn amber at
// 2 minutes and red at 4, a mixed order's ticket is amber on the drinks
// tablet after 3 minutes while the food tablet still shows it as new,
// and red on the drinks and "all" tablets after 5; the page hands the
// configured times to its script.
func TestStaffPageEscalatesByStation(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now())
	es, err := web.ParseEscalations("drinks=2m/4m")
	if err != nil {
		t.Fatal(err)
	}
	n := edgetest.Start(t, func(c *edge.Config) { c.Now, c.Escalations = clock.Now, es })
	menu, err := n.Store().Menu(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for _, it := range menu {
		if it.Name == "Flat white" || it.Name == "Cheese board" {
			lines = append(lines, map[string]any{"item_id": it.ID, "quantity": 1})
		}
	}
	if len(lines) != 2 {
		t.Fatalf("the demo menu lacks a Flat white or a Cheese board")
	}
	r := n.Do(t, "POST", "/api/v1/orders", n.Session(t, 0), map[string]any{"lines": lines}, "Idempotency-Key", "esc")
	var o struct{ ID string }
	r.Decode(t, &o)

	age := func(station string) string {
		t.Helper()
		resp, _ := postForm(t, n, "/staff/login", url.Values{"username": {n.Demo.Tablet.Username}, "password": {n.Demo.Tablet.Password}, "station": {station}})
		_, body := getPage(t, n, "/staff", cookie(resp, "pantry_staff"), cookie(resp, "pantry_station"))
		if !strings.Contains(body, `data-escalations="{&#34;&#34;:[300,600,300],&#34;drinks&#34;:[120,240,120],&#34;food&#34;:[600,900,900]}"`) {
			t.Errorf("the %s page does not hand the configured escalations to its script", station)
		}
		m := regexp.MustCompile(`data-order-id="` + o.ID + `" data-status="placed" data-age="(\w+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("the %s page has no ticket for the order", station)
		}
		return m[1]
	}
	start := clock.Now()
	for _, step := range []struct {
		after               time.Duration
		drinks, food, every string
	}{
		{0, "ok", "ok", "ok"},
		{3 * time.Minute, "amber", "ok", "amber"},
		{5 * time.Minute, "red", "ok", "red"},
		{11 * time.Minute, "red", "amber", "red"},
	} {
		clock.Set(start.Add(step.after))
		for station, want := range map[string]string{"drinks": step.drinks, "food": step.food, pantry.StationAll: step.every} {
			if got := age(station); got != want {
				t.Errorf("after %v the %s tablet shows the ticket %s, want %s", step.after, station, got, want)
			}
		}
	}
}

// TestEscalationLevel: an order wanted now escalates by its age; a
// scheduled one by its deliver-by time (amber the station's lead before
// it, red once past), whatever its age, and its work starts (FireAt) that
// lead before it.
func TestEscalationLevel(t *testing.T) {
	t.Parallel()
	e := web.Escalation{Amber: 5 * time.Minute, Red: 10 * time.Minute, Due: 15 * time.Minute}
	placed := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	asap := pantry.Order{CreatedAt: placed}
	at := placed.Add(5 * time.Hour)
	scheduled := pantry.Order{CreatedAt: placed, DeliverBy: &at}
	soonAt := placed.Add(10 * time.Minute)
	short := pantry.Order{CreatedAt: placed, DeliverBy: &soonAt}
	for _, tc := range []struct {
		name       string
		o          pantry.Order
		after      time.Duration
		level, due string
	}{
		{"New", asap, time.Minute, "ok", ""},
		{"Amber", asap, 5 * time.Minute, "amber", ""},
		{"Red", asap, 10 * time.Minute, "red", ""},
		{"ScheduledHoursAway", scheduled, 4 * time.Hour, "ok", "later"},
		{"ScheduledWithinLead", scheduled, 4*time.Hour + 46*time.Minute, "amber", "soon"},
		{"ScheduledDue", scheduled, 5 * time.Hour, "red", "late"},
		{"ScheduledPast", scheduled, 6 * time.Hour, "red", "late"},
		{"ShortNoticeIsSoonAtOnce", short, 0, "amber", "soon"},
	} {
		level, due := e.Level(tc.o, placed.Add(tc.after))
		if level != tc.level || due != tc.due {
			t.Errorf("%s: %s/%q, want %s/%q", tc.name, level, due, tc.level, tc.due)
		}
	}
	if got := e.FireAt(asap); !got.Equal(placed) {
		t.Errorf("FireAt(as soon as possible) = %v, want when it was placed", got)
	}
	if got := e.FireAt(scheduled); !got.Equal(at.Add(-15 * time.Minute)) {
		t.Errorf("FireAt(scheduled) = %v, want the lead before it is due", got)
	}
	if got := e.FireAt(short); !got.Equal(placed) {
		t.Errorf("FireAt(short notice) = %v, want when it was placed", got)
	}
}
