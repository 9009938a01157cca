package edge

import (
	"context"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pantry/pantry/edge/mqtt"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

// presence watches whether the pantry is there to see the orders: for each
// station with open orders, whether a tablet that shows that station's
// lines is connected to the broker. When none has been for absentAfter it
// raises staff.absent on pantry/{site}/alerts, and staff.present when one
// is back. It also keeps the Prometheus gauges and the snapshot `pantry
// edge status` reads.
//
// A tablet shows a line when it declared the line's station, or "all" (or
// nothing: see mqtt.tabletStation), and every tablet shows lines without a
// station, as the staff app does (its lineIsMine). The broker reports who
// is connected and when each station's last tablet left (mqtt.Presence);
// this adds the orders and the clock.
type presence struct {
	bus         *mqtt.Broker
	store       *sqlite.Store
	site        string
	absentAfter time.Duration
	every       time.Duration
	now         func() time.Time
	log         *slog.Logger
	wake        chan struct{} // a tablet connected or left: check now

	mu      sync.Mutex
	started time.Time                       // nothing is known of before this
	backlog []sqlite.StationBacklog         // as of the last check
	alerted map[string]sqlite.AbsentStation // stations in staff.absent, by station
	saved   sqlite.StaffPresence            // the snapshot last saved
}

// presenceHeartbeat is how often the snapshot for `pantry edge status` is
// rewritten when nothing changed, so that its age tells a running node
// from one that died without saying so.
const presenceHeartbeat = time.Minute

func newPresence(bus *mqtt.Broker, store *sqlite.Store, site string, cfg Config, wake chan struct{}) *presence {
	return &presence{
		bus: bus, store: store, site: site, absentAfter: cfg.StaffAbsentAfter, every: cfg.PresenceEvery,
		now: cfg.Now, log: cfg.Log, wake: wake, alerted: make(map[string]sqlite.AbsentStation),
	}
}

// poke asks for a check soon; it never blocks (the broker calls it on a
// tablet's connection goroutine).
func poke(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}

// run checks presence every p.every and whenever a tablet connects or
// leaves, until ctx ends; then it records that the node stopped.
func (p *presence) run(ctx context.Context) {
	p.mu.Lock()
	p.started = p.now()
	p.mu.Unlock()
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		p.check(ctx)
		select {
		case <-ctx.Done():
			p.stopped()
			return
		case <-t.C:
		case <-p.wake:
		}
	}
}

// check compares the open orders' stations with the tablets connected,
// saves the snapshot if it changed, and raises or clears alerts.
func (p *presence) check(ctx context.Context) {
	backlog, err := p.store.OpenOrderStations(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("staff presence: open orders by station", "err", err)
		}
		return
	}
	now := p.now()
	seen := p.bus.Presence()
	p.mu.Lock()
	p.backlog = backlog
	var alerts []mqtt.StaffAlert
	for _, b := range backlog {
		if a, ok := p.update(seen, b, now); ok {
			alerts = append(alerts, a)
		}
	}
	for st := range p.alerted {
		if !slices.ContainsFunc(backlog, func(b sqlite.StationBacklog) bool { return b.Station == st }) {
			delete(p.alerted, st) // no open order waits there any more: nothing to alert about
		}
	}
	snap := p.snapshot(seen, now)
	p.mu.Unlock()
	p.save(ctx, snap) // first, so that whoever hears an alert finds it in the status too
	for _, a := range alerts {
		if err := p.bus.PublishAlert(p.site, a); err != nil {
			p.log.Warn("staff presence: publish alert", "event", a.Event, "station", a.Station, "err", err)
		}
		p.log.Warn("staff presence", "event", a.Event, "station", a.Station, "since", a.Since, "open_orders", a.OpenOrders)
	}
}

// update moves one station's alert on, returning the alert to publish if
// it changed. p.mu is held.
func (p *presence) update(seen mqtt.Presence, b sqlite.StationBacklog, now time.Time) (mqtt.StaffAlert, bool) {
	since, here, ever := lastCovered(seen, b.Station)
	if !ever {
		since = p.started
	}
	a, alerted := p.alerted[b.Station]
	switch {
	case here && alerted:
		delete(p.alerted, b.Station)
		return mqtt.StaffAlert{Event: mqtt.EventStaffPresent, Station: b.Station, Since: since, OpenOrders: b.OpenOrders}, true
	case !here && !alerted && now.Sub(since) >= p.absentAfter:
		p.alerted[b.Station] = sqlite.AbsentStation{Station: b.Station, Since: since, OpenOrders: b.OpenOrders}
		return mqtt.StaffAlert{Event: mqtt.EventStaffAbsent, Station: b.Station, Since: since, OpenOrders: b.OpenOrders}, true
	case !here && alerted:
		a.OpenOrders = b.OpenOrders
		p.alerted[b.Station] = a
	}
	return mqtt.StaffAlert{}, false
}

// lastCovered says whether a tablet showing station's lines is connected
// (here), and since when: the latest such connection if here, else when the
// last one left. ever is false if the broker has seen none since it started.
func lastCovered(seen mqtt.Presence, station string) (since time.Time, here, ever bool) {
	for _, t := range seen.Tablets {
		if shows(t.Station, station) {
			here, since = true, later(since, t.Since)
		}
	}
	if here {
		return since, true, true
	}
	for st, at := range seen.LastLeft {
		if shows(st, station) {
			ever, since = true, later(since, at)
		}
	}
	return since, false, ever
}

// shows reports whether a tablet of station tablet shows lines of station
// line ("" for none).
func shows(tablet, line string) bool {
	return tablet == pantry.StationAll || line == "" || tablet == line
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// seenSince reports whether, for each of stations, a tablet showing it has
// been connected at some moment since t.
func (p *presence) seenSince(t time.Time, stations []string) bool {
	seen := p.bus.Presence()
	for _, st := range stations {
		if since, here, ever := lastCovered(seen, st); !here && (!ever || since.Before(t)) {
			return false
		}
	}
	return true
}

// snapshot builds the record for `pantry edge status`. p.mu is held.
func (p *presence) snapshot(seen mqtt.Presence, now time.Time) sqlite.StaffPresence {
	s := sqlite.StaffPresence{ObservedAt: now, Running: true, Tablets: []sqlite.PresentTablet{}, Absent: []sqlite.AbsentStation{}}
	for _, t := range seen.Tablets {
		s.Tablets = append(s.Tablets, sqlite.PresentTablet{Username: t.Username, ClientID: t.ClientID, Station: t.Station, Since: t.Since})
	}
	for _, b := range p.backlog {
		if a, ok := p.alerted[b.Station]; ok {
			s.Absent = append(s.Absent, a)
		}
	}
	return s
}

// save records snap if it differs from the last one saved, or if the last
// is older than presenceHeartbeat.
func (p *presence) save(ctx context.Context, snap sqlite.StaffPresence) {
	p.mu.Lock()
	last := p.saved
	p.mu.Unlock()
	same := last.Running && reflect.DeepEqual(last.Tablets, snap.Tablets) && reflect.DeepEqual(last.Absent, snap.Absent)
	if same && snap.ObservedAt.Sub(last.ObservedAt) < presenceHeartbeat {
		return
	}
	if err := p.store.SaveStaffPresence(ctx, snap); err != nil {
		if ctx.Err() == nil {
			p.log.Warn("staff presence: save snapshot", "err", err)
		}
		return
	}
	p.mu.Lock()
	p.saved = snap
	p.mu.Unlock()
}

// stopped records that the node no longer watches presence, so that
// `pantry edge status` does not show the last tablets as connected. It
// runs after Run's context ended, before the store closes.
func (p *presence) stopped() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	snap := sqlite.StaffPresence{ObservedAt: p.now(), Tablets: []sqlite.PresentTablet{}, Absent: []sqlite.AbsentStation{}}
	if err := p.store.SaveStaffPresence(ctx, snap); err != nil {
		p.log.Warn("staff presence: save final snapshot", "err", err)
	}
}

// Prometheus descriptions of the presence gauges.
var (
	staffConnectedDesc = prometheus.NewDesc("pantry_staff_tablets_connected",
		"Tablets connected to the broker now, by the station they declared (all: every station).", []string{"station"}, nil)
	staffAbsentDesc = prometheus.NewDesc("pantry_staff_absent",
		"1 while a station with open orders has had no tablet showing its lines for --staff-absent-after (the staff.absent alert), else 0; station \"\" is lines without a station.", []string{"station"}, nil)
)

// Describe implements prometheus.Collector.
func (p *presence) Describe(ch chan<- *prometheus.Desc) {
	ch <- staffConnectedDesc
	ch <- staffAbsentDesc
}

// Collect implements prometheus.Collector: tablets as the broker sees them
// now, absence as of the last check (no query at scrape time).
func (p *presence) Collect(ch chan<- prometheus.Metric) {
	connected := map[string]int{pantry.StationAll: 0}
	for _, t := range p.bus.Presence().Tablets {
		connected[t.Station]++
	}
	p.mu.Lock()
	absent := make(map[string]float64, len(p.backlog))
	for _, b := range p.backlog {
		absent[b.Station] = 0
		if _, ok := p.alerted[b.Station]; ok {
			absent[b.Station] = 1
		}
		if _, ok := connected[b.Station]; !ok && b.Station != "" {
			connected[b.Station] = 0 // a station whose orders wait for a tablet
		}
	}
	p.mu.Unlock()
	for st, n := range connected {
		ch <- prometheus.MustNewConstMetric(staffConnectedDesc, prometheus.GaugeValue, float64(n), st)
	}
	for st, v := range absent {
		ch <- prometheus.MustNewConstMetric(staffAbsentDesc, prometheus.GaugeValue, v, st)
	}
}
