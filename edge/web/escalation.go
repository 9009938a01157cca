package web

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// Escalation is when a station's tickets turn amber, then red ("late"):
// Amber and Red after an order was placed or, for an order with a
// deliver-by time, Due before that time and at it.
type Escalation struct{ Amber, Red, Due time.Duration }

// Escalations are the stations' escalations. The key "" holds the one for
// stations it does not name, and for lines that have no station.
type Escalations map[string]Escalation

// DefaultEscalations are what a pantry expects without configuration:
// drinks are quick (amber at 5 min, red at 10, and a scheduled order
// turns amber 5 min before it is due), food takes longer (10, 15, and
// 15 min before), anything else is treated as drinks.
func DefaultEscalations() Escalations {
	return Escalations{
		"":       {5 * time.Minute, 10 * time.Minute, 5 * time.Minute},
		"drinks": {5 * time.Minute, 10 * time.Minute, 5 * time.Minute},
		"food":   {10 * time.Minute, 15 * time.Minute, 15 * time.Minute},
	}
}

// ParseEscalations reads `--escalate`: comma-separated
// "station=AMBER/RED[/DUE]" of Go durations, such as
// "drinks=3m/6m,food=12m/20m/30m"; the station "*" sets the one for other
// stations, and DUE defaults to AMBER. What it names replaces the
// default; the rest stay.
func ParseEscalations(s string) (Escalations, error) {
	es := DefaultEscalations()
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		station, times, ok := strings.Cut(part, "=")
		amberText, redText, ok2 := strings.Cut(times, "/")
		redText, dueText, hasDue := strings.Cut(redText, "/")
		if !ok || !ok2 {
			return nil, fmt.Errorf("escalation %q: want STATION=AMBER/RED[/DUE], such as drinks=5m/10m", part)
		}
		station = strings.TrimSpace(station)
		if station == "*" {
			station = ""
		} else if !pantry.ValidStation(station) || station == pantry.StationAll {
			return nil, fmt.Errorf("escalation %q: %q is not a station name", part, station)
		}
		amber, err := time.ParseDuration(strings.TrimSpace(amberText))
		if err != nil {
			return nil, fmt.Errorf("escalation %q: amber: %w", part, err)
		}
		red, err := time.ParseDuration(strings.TrimSpace(redText))
		if err != nil {
			return nil, fmt.Errorf("escalation %q: red: %w", part, err)
		}
		if amber < time.Minute || red <= amber || red > 24*time.Hour {
			return nil, fmt.Errorf("escalation %q: amber must be at least 1m and red later than amber (at most 24h)", part)
		}
		due := amber
		if hasDue {
			if due, err = time.ParseDuration(strings.TrimSpace(dueText)); err != nil {
				return nil, fmt.Errorf("escalation %q: due: %w", part, err)
			}
			if due < time.Minute || due > 24*time.Hour {
				return nil, fmt.Errorf("escalation %q: due must be between 1m and 24h", part)
			}
		}
		es[station] = Escalation{Amber: amber, Red: red, Due: due}
	}
	return es, nil
}

// String is the flag's form of es, stations in order.
func (es Escalations) String() string {
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(es)) {
		name := st
		if st == "" {
			name = "*"
		}
		e := es[st]
		parts = append(parts, name+"="+shortDuration(e.Amber)+"/"+shortDuration(e.Red)+"/"+shortDuration(e.Due))
	}
	return strings.Join(parts, ",")
}

// shortDuration writes 5m rather than 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// station is the escalation of a station's lines.
func (es Escalations) station(s string) Escalation {
	if e, ok := es[s]; ok {
		return e
	}
	return es[""]
}

// ForOrder is when order o's ticket turns amber and red on a tablet of
// station: that station's times, or, on a tablet that shows every
// station, the earliest of the order's lines' (a coffee with a sandwich
// is late when the coffee is) and, for a scheduled order, the longest
// lead (the sandwich must be started first). static/staff.js applies
// the same rule.
func (es Escalations) ForOrder(o pantry.Order, station string) Escalation {
	if station != pantry.StationAll {
		return es.station(station)
	}
	var out Escalation
	for i, l := range o.Lines {
		e := es.station(l.Station)
		if i == 0 || e.Amber < out.Amber {
			out.Amber = e.Amber
		}
		if i == 0 || e.Red < out.Red {
			out.Red = e.Red
		}
		if i == 0 || e.Due > out.Due {
			out.Due = e.Due // the slowest station starts first
		}
	}
	if len(o.Lines) == 0 {
		return es.station("")
	}
	return out
}

// seconds is es as the page hands it to its script: station → [amber,
// red, due] in seconds.
func (es Escalations) seconds() map[string][3]int64 {
	out := make(map[string][3]int64, len(es))
	for st, e := range es {
		out[st] = [3]int64{int64(e.Amber / time.Second), int64(e.Red / time.Second), int64(e.Due / time.Second)}
	}
	return out
}

// Level is how urgent order o's ticket is at now: "ok", "amber" or "red",
// by its age, or for a scheduled order by how near its deliver-by time
// is; due says where a scheduled order stands ("later", "soon" or
// "late"; "" for an order wanted as soon as possible).
func (e Escalation) Level(o pantry.Order, now time.Time) (level, due string) {
	if o.DeliverBy != nil {
		switch left := o.DeliverBy.Sub(now); {
		case left <= 0:
			return "red", "late"
		case left <= e.Due:
			return "amber", "soon"
		default:
			return "ok", "later"
		}
	}
	switch age := now.Sub(o.CreatedAt); {
	case age >= e.Red:
		return "red", ""
	case age >= e.Amber:
		return "amber", ""
	}
	return "ok", ""
}

// FireAt is when work on order o should start, which orders the queue: at
// once for an order wanted as soon as possible, Due before its deliver-by
// time for a scheduled one (never before it was placed).
func (e Escalation) FireAt(o pantry.Order) time.Time {
	if o.DeliverBy == nil {
		return o.CreatedAt
	}
	if at := o.DeliverBy.Add(-e.Due); at.After(o.CreatedAt) {
		return at
	}
	return o.CreatedAt
}
