// Package fleetsim plays a fleet of enrolled edge nodes against the
// cloud: each node a real syncer.Client with its own credential and its
// own connections, long-polling its site's feed as the edge's worker does
// and pushing a building's day of events (sessions, orders with their
// lines, payments and coupons, status changes, stock movements) with
// consecutive seqs of its own, while an admin changes prices through the
// API. It measures what a fleet's operator cares about: pushes and
// events per second, push latency, how long an admin's change takes to
// reach every building, the long polls held, and what the clouds and
// PostgreSQL spend on it; and it checks that every event the nodes had
// acknowledged is in the cloud exactly once, with no dead letters.
// `pantry cloud loadtest` runs it.
//
// It lives under edge/ because it is the edge's side of the protocol
// (it imports edge/syncer): it reaches the cloud over HTTP only, and
// PostgreSQL through the functions its caller gives it.
package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Config says which clouds to drive with which fleet, and how hard.
type Config struct {
	// Clouds are the base URLs of the cloud instances: node i talks to
	// Clouds[i % len], and organization k's admin to Clouds[k % len], so
	// that with two instances most changes wake pulls held by the other.
	Clouds []string
	Fleet  *Fleet
	// PushRate is the fleet's pushes per second, all nodes together.
	PushRate float64
	Duration time.Duration
	// PullWait is how long a pull may be held (default 25 s, the edge's).
	PullWait time.Duration
	// ChangeEvery is how often the admin changes a price, one
	// organization after the other (0: never).
	ChangeEvery time.Duration
	// CatchUp is the chance that a push carries an outage's backlog
	// rather than a few events; CatchUpEvents is the backlog's mean size
	// (uniform from half to one and a half times it).
	CatchUp       float64
	CatchUpEvents int
	// Settle bounds the wait after the phase for the last pushes to be
	// acknowledged and the last change to reach every node (default
	// PullWait + 20 s).
	Settle          time.Duration
	Workers         int    // nodes starting at once (default 32)
	SoftwareVersion string // what the nodes say they run
	Seed            uint64
	// CloudPIDs are the clouds' processes when they run on this machine,
	// in the order of Clouds: their peak memory is read from /proc.
	CloudPIDs []int
	// Database, if set, reads PostgreSQL's connections; it is sampled
	// through the phase.
	Database func(ctx context.Context) (DBStats, error)
	// CountRows, if set, counts the rows the fleet's events write in the
	// organizations named: before and after the run, for the
	// exactly-once check.
	CountRows func(ctx context.Context, orgs []string) (Counts, error)
	Progress  func(format string, args ...any) // nil: quiet
}

// Result is what one run measured.
type Result struct {
	Nodes          int     `json:"nodes"`
	Orgs           int     `json:"orgs"`
	Instances      int     `json:"instances"`
	Seconds        float64 `json:"seconds"`
	NodesReadySec  float64 `json:"nodes_ready_s"` // node info and first pull of every node, before the phase
	TargetPushRate float64 `json:"target_push_rate"`

	Pushes         int               `json:"pushes"` // acknowledged during the phase
	PushesPerSec   float64           `json:"pushes_per_sec"`
	Events         int               `json:"events"`
	EventsPerSec   float64           `json:"events_per_sec"`
	PushP50ms      float64           `json:"push_p50_ms"`
	PushP99ms      float64           `json:"push_p99_ms"`
	PushMaxms      float64           `json:"push_max_ms"`
	CatchUps       int               `json:"catch_ups"` // pushes of an outage's backlog, timed apart
	CatchUpP50ms   float64           `json:"catch_up_p50_ms,omitempty"`
	CatchUpP99ms   float64           `json:"catch_up_p99_ms,omitempty"`
	CatchUpMaxms   float64           `json:"catch_up_max_ms,omitempty"`
	PullsAnswered  int               `json:"pulls_answered"`
	PullsHeldStart int               `json:"pulls_held_at_start"` // long polls in flight once every node had sent one
	PullsHeldMin   int               `json:"pulls_held_min"`      // sampled every second through the phase
	PullsHeldMean  float64           `json:"pulls_held_mean"`
	PullsHeldMax   int               `json:"pulls_held_max"`
	Changes        int               `json:"changes"`       // admin price changes the API accepted
	ChangeP50ms    float64           `json:"change_p50_ms"` // how long the API took to answer them
	ChangeMaxms    float64           `json:"change_max_ms"`
	WakeExpected   int               `json:"wakeups_expected"` // changes × the nodes of their organization
	WakeDelivered  int               `json:"wakeups_delivered"`
	WakeMissing    int               `json:"wakeups_missing"`
	WakeP50ms      float64           `json:"wakeup_p50_ms"`
	WakeP99ms      float64           `json:"wakeup_p99_ms"`
	WakeMaxms      float64           `json:"wakeup_max_ms"`
	Errors         map[string]int    `json:"errors"`
	ErrorSamples   map[string]string `json:"error_samples,omitempty"`
	Sent           Counts            `json:"sent"`  // rows the acknowledged events write
	Cloud          *Counts           `json:"cloud"` // rows the cloud gained (nil without CountRows)
	Availability   int               `json:"availability_events"`
	Acknowledged   int               `json:"events_acknowledged"` // every event the cloud acknowledged, the phase's and the last ones flushed after it
	DeadLettered   int               `json:"dead_lettered"`       // seqs the cloud's answers named as dead letters
	Unacknowledged int               `json:"unacknowledged"`
	Clouds         []CloudStats      `json:"clouds"`
	DB             DBStats           `json:"postgres"`
	DBSampleErrors int               `json:"postgres_sample_errors,omitempty"`
	SelfPeakRSSMiB float64           `json:"loadgen_peak_rss_mib"`
	SelfOpenFiles  int               `json:"loadgen_peak_open_files"`
	SelfCPUPercent float64           `json:"loadgen_cpu_percent"`
	FileLimit      uint64            `json:"loadgen_file_limit,omitempty"` // its RLIMIT_NOFILE, which the clouds it starts inherit
	LoadBefore     [3]float64        `json:"load_before"`
	LoadAfter      [3]float64        `json:"load_after"`
	Problems       []string          `json:"problems"` // what makes the run a failure: lost, doubled or dead events, nodes a change never reached
}

// run is one run's shared state.
type run struct {
	cfg     Config
	nodes   []*node
	changes []*orgChanges // per organization
	m       *measure
	held    atomic.Int64 // pulls in flight
	pulls   atomic.Int64 // pulls answered during the phase and after
}

func withDefaults(cfg Config) (Config, error) {
	if len(cfg.Clouds) == 0 || cfg.Fleet == nil || cfg.Fleet.Size() == 0 {
		return cfg, errors.New("fleet run: no cloud or no nodes")
	}
	if cfg.PushRate <= 0 || cfg.Duration <= 0 {
		return cfg, errors.New("fleet run: the push rate and the duration must be positive")
	}
	if cfg.PullWait <= 0 {
		cfg.PullWait = 25 * time.Second
	}
	cfg.PullWait = cfg.PullWait.Truncate(time.Second)
	if cfg.PullWait < time.Second {
		cfg.PullWait = time.Second
	}
	if cfg.Settle <= 0 {
		cfg.Settle = cfg.PullWait + 20*time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.CatchUpEvents <= 0 {
		cfg.CatchUpEvents = 500
	}
	if cfg.SoftwareVersion == "" {
		cfg.SoftwareVersion = "fleetsim"
	}
	if cfg.Progress == nil {
		cfg.Progress = func(string, ...any) {}
	}
	return cfg, nil
}

// Run starts every node (its watermark, its configuration), holds a long
// poll for each, then pushes at cfg.PushRate and changes prices for
// cfg.Duration, waits (bounded) for the last pushes and changes to land,
// and reports. An error means the run could not be made (a node that
// cannot start, a database that cannot be counted); what went wrong while
// it ran is in Result.Errors and Result.Problems.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return Result{}, err
	}
	r := &run{cfg: cfg, m: newMeasure()}
	res := Result{Orgs: len(cfg.Fleet.Orgs), Instances: len(cfg.Clouds), TargetPushRate: cfg.PushRate}
	res.LoadBefore, _ = LoadAverage()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xf1ee75))
	for i, o := range cfg.Fleet.Orgs {
		r.changes = append(r.changes, &orgChanges{nodes: len(o.Nodes)})
		for pos, n := range o.Nodes {
			r.nodes = append(r.nodes, newNode(r, i, pos, n, cfg.Clouds[len(r.nodes)%len(cfg.Clouds)], rng.Uint64()))
		}
	}
	defer func() {
		for _, n := range r.nodes {
			n.close()
		}
	}()
	res.Nodes = len(r.nodes)
	started := time.Now()
	if err := parallel(ctx, len(r.nodes), cfg.Workers, func(ctx context.Context, i int) error { return r.nodes[i].start(ctx) }); err != nil {
		return res, fmt.Errorf("start the fleet: %w", err)
	}
	res.NodesReadySec = time.Since(started).Seconds()
	cfg.Progress("fleet: %d nodes started in %.1f s", len(r.nodes), res.NodesReadySec)
	before, err := r.count(ctx)
	if err != nil {
		return res, err
	}
	pullCtx, stopPulls := context.WithCancel(ctx)
	defer stopPulls()
	var pulls sync.WaitGroup
	for _, n := range r.nodes {
		pulls.Go(func() { n.pullLoop(pullCtx) })
	}
	res.PullsHeldStart = r.waitHeld(ctx, len(r.nodes), 30*time.Second)
	cfg.Progress("fleet: %d of %d long polls held; pushing at %.0f/s for %s", res.PullsHeldStart, len(r.nodes), cfg.PushRate, cfg.Duration)
	elapsed, s, err := r.phase(ctx, rng)
	if err != nil {
		stopPulls()
		pulls.Wait()
		return res, err
	}
	r.settle(ctx)
	stopPulls()
	pulls.Wait()
	r.report(&res, elapsed, s)
	if before != nil {
		after, err := r.count(ctx)
		if err != nil {
			return res, err
		}
		gained := after.Sub(*before)
		res.Cloud = &gained
	}
	res.LoadAfter, _ = LoadAverage()
	res.Problems = problems(res)
	return res, nil
}

// count counts the fleet's rows in the cloud, if the caller said how.
func (r *run) count(ctx context.Context) (*Counts, error) {
	if r.cfg.CountRows == nil {
		return nil, nil
	}
	c, err := r.cfg.CountRows(ctx, r.cfg.Fleet.OrgIDs())
	if err != nil {
		return nil, fmt.Errorf("count the fleet's rows: %w", err)
	}
	return &c, nil
}

// waitHeld waits (bounded) until want long polls are in flight, and
// returns how many were.
func (r *run) waitHeld(ctx context.Context, want int, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil && int(r.held.Load()) < want {
		sleep(ctx, 50*time.Millisecond)
	}
	return int(r.held.Load())
}

// phase pushes from every node and changes prices for cfg.Duration,
// sampling the clouds and the database meanwhile.
func (r *run) phase(ctx context.Context, rng *rand.Rand) (time.Duration, *sampler, error) {
	admins, prices, err := r.admins(ctx)
	if err != nil {
		return 0, nil, err
	}
	phase, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	s := newSampler(r)
	var wg sync.WaitGroup
	wg.Go(func() { s.run(phase, time.Second) })
	if r.cfg.ChangeEvery > 0 {
		wg.Go(func() { r.adminLoop(phase, admins, prices) })
	}
	start := time.Now()
	for _, n := range r.nodes {
		seed := rng.Uint64()
		wg.Go(func() { n.pushLoop(phase, rand.New(rand.NewPCG(seed, 0x915))) })
	}
	wg.Wait()
	return time.Since(start), s, nil
}

// admins signs in every organization's admin and reads the price each
// will change.
func (r *run) admins(ctx context.Context) ([]*admin, []money, error) {
	client := adminClient(4)
	admins := make([]*admin, len(r.cfg.Fleet.Orgs))
	prices := make([]money, len(admins))
	for i, o := range r.cfg.Fleet.Orgs {
		admins[i] = newAdmin(r.cfg.Clouds[i%len(r.cfg.Clouds)], o.AdminEmail, o.AdminPassword, client)
		p, err := admins[i].price(ctx, o.PriceItem)
		if err != nil {
			return nil, nil, fmt.Errorf("organization %s: %w", o.ID, err)
		}
		prices[i] = p
	}
	return admins, prices, nil
}

// adminLoop changes a price every cfg.ChangeEvery, one organization after
// the other, until ctx ends.
func (r *run) adminLoop(ctx context.Context, admins []*admin, prices []money) {
	t := time.NewTicker(r.cfg.ChangeEvery)
	defer t.Stop()
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		org := k % len(admins)
		prices[org].Amount++
		c := r.changes[org].add(prices[org].Amount, time.Now())
		err := admins[org].setPrice(context.WithoutCancel(ctx), r.cfg.Fleet.Orgs[org].PriceItem, prices[org])
		r.changes[org].done(c, time.Now(), err)
		if err != nil {
			r.m.fail("admin", err)
		}
	}
}

// settle waits, bounded by cfg.Settle, for every node's last events to be
// acknowledged and every change to reach every node of its organization.
func (r *run) settle(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Settle)
	defer cancel()
	var wg sync.WaitGroup
	for _, n := range r.nodes {
		wg.Go(func() { n.flush(ctx) })
	}
	wg.Wait()
	for ctx.Err() == nil && r.missing() > 0 {
		sleep(ctx, 100*time.Millisecond)
	}
}

// missing counts the changes still owed to nodes.
func (r *run) missing() int {
	n := 0
	for _, c := range r.changes {
		n += c.missing()
	}
	return n
}

// report fills res with what the phase measured.
func (r *run) report(res *Result, elapsed time.Duration, s *sampler) {
	m := r.m
	m.mu.Lock()
	res.Seconds = elapsed.Seconds()
	res.Pushes, res.Events, res.CatchUps = m.pushes, m.events, len(m.catchUp)
	res.PushesPerSec, res.EventsPerSec = float64(m.pushes)/elapsed.Seconds(), float64(m.events)/elapsed.Seconds()
	res.PushP50ms, res.PushP99ms, res.PushMaxms = percentiles(m.push)
	res.CatchUpP50ms, res.CatchUpP99ms, res.CatchUpMaxms = percentiles(m.catchUp)
	res.Errors, res.ErrorSamples = m.errors, m.samples
	res.Sent, res.Availability, res.DeadLettered, res.Acknowledged = m.sent, m.availability, m.deadLettered, m.ackedEvents
	m.mu.Unlock()
	res.PullsAnswered = int(r.pulls.Load())
	for _, n := range r.nodes {
		res.Unacknowledged += len(n.pending)
	}
	var wake, answers []time.Duration
	for i, c := range r.changes {
		lat, answered := c.latencies()
		wake, answers = append(wake, lat...), append(answers, answered...)
		res.WakeExpected += len(answered) * len(r.cfg.Fleet.Orgs[i].Nodes)
	}
	res.Changes, res.WakeDelivered = len(answers), len(wake)
	res.WakeMissing = res.WakeExpected - res.WakeDelivered
	res.WakeP50ms, res.WakeP99ms, res.WakeMaxms = percentiles(wake)
	res.ChangeP50ms, _, res.ChangeMaxms = percentiles(answers)
	s.report(res, elapsed)
}

// problems lists what makes res a failed run.
func problems(res Result) []string {
	var out []string
	if res.DeadLettered > 0 {
		out = append(out, fmt.Sprintf("the cloud dead-lettered %d events", res.DeadLettered))
	}
	if res.Unacknowledged > 0 {
		out = append(out, fmt.Sprintf("%d events were never acknowledged", res.Unacknowledged))
	}
	if res.WakeMissing > 0 {
		out = append(out, fmt.Sprintf("%d of %d deliveries of the admin's changes never reached their node", res.WakeMissing, res.WakeExpected))
	}
	if res.Cloud != nil {
		sent, got := res.Sent.fields(), res.Cloud.fields()
		for i := range sent {
			if sent[i].n != got[i].n {
				out = append(out, fmt.Sprintf("%s: the cloud gained %d, the nodes had %d acknowledged", sent[i].name, got[i].n, sent[i].n))
			}
		}
	}
	return out
}
