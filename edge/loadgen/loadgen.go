// Package loadgen drives a running edge node the way a building full of
// attendees would: many concurrent sessions placing orders over HTTP, while
// staff tablets subscribed over MQTT timestamp every order event they
// receive, and attendees' order pages follow their orders over Server-Sent
// Events. `pantry edge loadtest` runs it; `make bench` reports its figures.
package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// Config says what to drive and how hard.
type Config struct {
	URL       string // the node's HTTP base URL
	MQTTAddr  string // host:port of its MQTT listener
	SiteID    string
	Username  string // a tablet login: its staff token signs the MQTT tablets in; it restocks and moves orders on
	Password  string
	RoomCodes []string
	// Attendees is the number of concurrent attendee sessions.
	Attendees int
	// Rate is the target orders per second; 0 means as fast as the node
	// answers (closed loop).
	Rate     float64
	Duration time.Duration
	// Tablets is the number of MQTT subscribers (default 1), each a real
	// paho client on its own connection, subscribed as the staff app is.
	// Every tablet times every order.
	Tablets int
	// OpenOrders are placed before the measured phase, as fast as the node
	// takes them, and left open: the queue the tablets load on connecting.
	OpenOrders int
	// LiveClients is the number of attendee order pages held open over
	// Server-Sent Events during the phase, each with its own session and
	// order (placed beforehand, so they are open orders too).
	LiveClients int
	// StatusRate is how many staff status changes a second the phase makes
	// on the orders the live clients follow, each timed until its stream
	// shows it (default 20 when there are live clients).
	StatusRate float64
	// NodeStats, if set, reads the node's process at the start and at the
	// end of the phase, while every client is still connected; nil when
	// the node runs elsewhere.
	NodeStats func() (ProcessStats, error)
}

// Result is what one run measured.
type Result struct {
	Attendees      int            `json:"attendees"`
	TargetRate     float64        `json:"target_rate"`
	Seconds        float64        `json:"seconds"`
	Orders         int            `json:"orders"`
	Errors         map[string]int `json:"errors"`
	OrdersPerSec   float64        `json:"orders_per_sec"`
	LatencyP50ms   float64        `json:"latency_p50_ms"`
	LatencyP99ms   float64        `json:"latency_p99_ms"`
	LatencyMaxms   float64        `json:"latency_max_ms"`
	MQTTReceived   int            `json:"mqtt_received"` // deliveries, summed over the tablets
	MQTTP50ms      float64        `json:"mqtt_delivery_p50_ms"`
	MQTTP99ms      float64        `json:"mqtt_delivery_p99_ms"`
	MQTTMaxms      float64        `json:"mqtt_delivery_max_ms"`
	MQTTMissing    int            `json:"mqtt_missing"` // orders × tablets − deliveries
	BehindSchedule int            `json:"behind_schedule"`

	Tablets           int     `json:"tablets"`
	TabletDisconnects int     `json:"tablet_disconnects"`
	TabletDuplicates  int     `json:"tablet_duplicates"`
	TabletMessages    int     `json:"tablet_messages"` // live messages on every topic, summed over the tablets
	TabletsReadySec   float64 `json:"tablets_ready_s"` // connect, subscribe and receive the open queue, all tablets
	OpenOrders        int     `json:"open_orders"`
	LiveClients       int     `json:"live_clients"`
	SSEConnected      int     `json:"sse_connected"` // streams still open at the end of the phase
	SSEDisconnects    int     `json:"sse_disconnects"`
	SSEChanges        int     `json:"sse_changes"` // status changes timed on their streams
	SSEP50ms          float64 `json:"sse_delivery_p50_ms,omitempty"`
	SSEP99ms          float64 `json:"sse_delivery_p99_ms,omitempty"`
	SSEMaxms          float64 `json:"sse_delivery_max_ms,omitempty"`
	SSEMissing        int     `json:"sse_missing"`

	NodeRSSMiB     float64 `json:"node_rss_mib,omitempty"`
	NodePeakRSSMiB float64 `json:"node_peak_rss_mib,omitempty"`
	NodeOpenFiles  int     `json:"node_open_files,omitempty"`
	NodeCPUPercent float64 `json:"node_cpu_percent,omitempty"` // of one core, over the phase and the wait for its last deliveries
	SelfPeakRSSMiB float64 `json:"loadgen_peak_rss_mib,omitempty"`
	SelfCPUPercent float64 `json:"loadgen_cpu_percent,omitempty"` // likewise
}

// String formats r as one human line, with the figures of tablets, open
// orders, live clients and the node's process when there are any.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d attendees, %.0f s: %d orders, %.0f orders/s, latency p50 %.1f ms p99 %.1f ms max %.1f ms; "+
		"order→tablet p50 %.1f ms p99 %.1f ms max %.1f ms (%d/%d delivered); errors %v",
		r.Attendees, r.Seconds, r.Orders, r.OrdersPerSec, r.LatencyP50ms, r.LatencyP99ms, r.LatencyMaxms,
		r.MQTTP50ms, r.MQTTP99ms, r.MQTTMaxms, r.MQTTReceived, r.Orders*max(r.Tablets, 1), r.Errors)
	if r.BehindSchedule > 0 {
		fmt.Fprintf(&b, ", %d behind schedule", r.BehindSchedule)
	}
	if r.Tablets > 1 || r.OpenOrders > 0 || r.LiveClients > 0 {
		fmt.Fprintf(&b, "; %d tablets (%d messages, %d disconnects, ready in %.1f s), %d open orders",
			r.Tablets, r.TabletMessages, r.TabletDisconnects, r.TabletsReadySec, r.OpenOrders)
	}
	if r.LiveClients > 0 {
		fmt.Fprintf(&b, "; SSE %d/%d streams open, %d disconnects, status→page p50 %.1f ms p99 %.1f ms max %.1f ms (%d timed, %d missing)",
			r.SSEConnected, r.LiveClients, r.SSEDisconnects, r.SSEP50ms, r.SSEP99ms, r.SSEMaxms, r.SSEChanges, r.SSEMissing)
	}
	if r.NodePeakRSSMiB > 0 {
		fmt.Fprintf(&b, "; node RSS %.0f MiB (peak %.0f MiB), %d open files, CPU %.0f%%",
			r.NodeRSSMiB, r.NodePeakRSSMiB, r.NodeOpenFiles, r.NodeCPUPercent)
	}
	if r.SelfPeakRSSMiB > 0 {
		fmt.Fprintf(&b, "; load generator peak RSS %.0f MiB, CPU %.0f%%", r.SelfPeakRSSMiB, r.SelfCPUPercent)
	}
	return b.String()
}

type run struct {
	cfg    Config
	client *http.Client
	items  []string
	staff  string   // staff token, for restocking and status changes
	sent   sync.Map // note -> send time
	seq    atomic.Int64

	tablets []*tablet
	live    *liveClients

	mu        sync.Mutex
	latencies []time.Duration
	errors    map[string]int
	behind    int
}

// Run drives the node for cfg.Duration and reports what it measured.
// Setting up (sessions, open orders, live clients, tablets) comes first and
// is not measured, but fails the run if the node refuses any of it.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg = withDefaults(cfg)
	r := &run{
		cfg:    cfg,
		errors: map[string]int{},
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Attendees, MaxConnsPerHost: cfg.Attendees},
		},
	}
	defer r.client.CloseIdleConnections()
	tokens, err := r.setUp(ctx)
	if err != nil {
		return Result{}, err
	}
	live, err := r.openLiveClients(ctx)
	if err != nil {
		return Result{}, err
	}
	r.live = live
	defer live.close()
	ready := time.Now()
	defer r.closeTablets()
	if err := r.connectTablets(ctx); err != nil {
		return Result{}, err
	}
	readySec := time.Since(ready).Seconds()
	before, self := r.nodeStats(), selfStats()
	start := time.Now()
	r.phase(ctx, tokens)
	elapsed := time.Since(start)
	r.settle(ctx)
	window := time.Since(start) // the phase and the wait for its last deliveries
	res := r.result(elapsed)
	res.TabletsReadySec = readySec
	r.addProcessStats(&res, before, r.nodeStats(), window)
	addSelfStats(&res, self, selfStats(), window)
	return res, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Attendees <= 0 {
		cfg.Attendees = 64
	}
	if cfg.Tablets <= 0 {
		cfg.Tablets = 1
	}
	if cfg.LiveClients > 0 && cfg.StatusRate <= 0 {
		cfg.StatusRate = 20
	}
	return cfg
}

// setUp logs in, restocks, opens the attendee sessions and places the
// open orders.
func (r *run) setUp(ctx context.Context) ([]string, error) {
	staff, err := r.login(ctx)
	if err != nil {
		return nil, err
	}
	r.staff = staff
	if err := r.restock(ctx); err != nil {
		return nil, err
	}
	tokens, err := r.sessions(ctx, r.cfg.Attendees)
	if err != nil {
		return nil, err
	}
	if err := r.placeOpenOrders(ctx, tokens); err != nil {
		return nil, err
	}
	return tokens, nil
}

// phase runs the attendees and, with live clients, the status changes
// timed on their streams, for cfg.Duration.
func (r *run) phase(ctx context.Context, tokens []string) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	if r.live != nil && len(r.live.streams) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.advance(ctx)
		}()
	}
	r.drive(ctx, tokens)
	wg.Wait()
}

func (r *run) drive(ctx context.Context, tokens []string) {
	var wg sync.WaitGroup
	jobs := make(chan time.Time, r.cfg.Attendees)
	if r.cfg.Rate > 0 {
		go r.schedule(ctx, jobs)
	}
	for i := range r.cfg.Attendees {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.attendee(ctx, tokens[i], jobs)
		}()
	}
	wg.Wait()
}

// schedule releases orders at the target rate (open loop), counting the
// ones it could not hand to an idle attendee in time.
func (r *run) schedule(ctx context.Context, jobs chan<- time.Time) {
	defer close(jobs)
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	next := time.Now()
	for {
		next = next.Add(interval)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		select {
		case jobs <- next:
		default:
			r.mu.Lock()
			r.behind++
			r.mu.Unlock()
		}
	}
}

func (r *run) attendee(ctx context.Context, token string, jobs <-chan time.Time) {
	for ctx.Err() == nil {
		if r.cfg.Rate > 0 {
			if _, ok := <-jobs; !ok {
				return
			}
		}
		r.order(ctx, token)
	}
}

func (r *run) order(ctx context.Context, token string) {
	n := r.seq.Add(1)
	note := "load-" + strconv.FormatInt(n, 10)
	body, _ := json.Marshal(pantry.PlaceOrder{
		Lines: []pantry.LineRequest{{ItemID: r.items[n%int64(len(r.items))], Quantity: 1}},
		Note:  note, DeliverTo: pantry.DeliverRoom,
	})
	start := time.Now()
	r.sent.Store(note, start)
	status, _, err := r.do(context.WithoutCancel(ctx), "POST", "/api/v1/orders", token, body, "Idempotency-Key", note)
	took := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		r.errors["transport"]++
	case status != http.StatusCreated:
		r.errors[strconv.Itoa(status)]++
	default:
		r.latencies = append(r.latencies, took)
		return
	}
	r.sent.Delete(note)
}

// settle waits (bounded) for the last order events to reach every tablet
// and the last status changes to reach their streams.
func (r *run) settle(ctx context.Context) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r.mu.Lock()
		want := len(r.latencies) * len(r.tablets)
		r.mu.Unlock()
		if r.delivered() >= want && (r.live == nil || r.live.pending() == 0) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *run) result(elapsed time.Duration) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := Result{
		Attendees: r.cfg.Attendees, TargetRate: r.cfg.Rate, Seconds: elapsed.Seconds(),
		Orders: len(r.latencies), Errors: r.errors, BehindSchedule: r.behind,
		Tablets: len(r.tablets), OpenOrders: r.cfg.OpenOrders, LiveClients: r.cfg.LiveClients,
	}
	res.OrdersPerSec = float64(res.Orders) / elapsed.Seconds()
	res.LatencyP50ms, res.LatencyP99ms, res.LatencyMaxms = percentiles(r.latencies)
	var deliver []time.Duration
	for _, t := range r.tablets {
		d := t.report()
		deliver = append(deliver, d.latencies...)
		res.TabletDuplicates += d.duplicates
		res.TabletMessages += d.messages
		if d.disconnected {
			res.TabletDisconnects++
		}
	}
	res.MQTTReceived = len(deliver)
	res.MQTTP50ms, res.MQTTP99ms, res.MQTTMaxms = percentiles(deliver)
	res.MQTTMissing = max(res.Orders*res.Tablets-res.MQTTReceived, 0)
	if r.live != nil {
		r.live.report(&res)
	}
	return res
}

// nodeStats reads the node's process, if the caller said how.
func (r *run) nodeStats() *ProcessStats {
	if r.cfg.NodeStats == nil {
		return nil
	}
	st, err := r.cfg.NodeStats()
	if err != nil {
		r.mu.Lock()
		r.errors["node-stats"]++
		r.mu.Unlock()
		return nil
	}
	return &st
}

// addProcessStats adds the node's memory, files and CPU over the phase to res.
func (r *run) addProcessStats(res *Result, before, after *ProcessStats, elapsed time.Duration) {
	if after == nil {
		return
	}
	res.NodeRSSMiB, res.NodePeakRSSMiB = mib(after.RSSBytes), mib(after.PeakRSSBytes)
	res.NodeOpenFiles = after.OpenFiles
	if before != nil {
		res.NodeCPUPercent = cpuPercent(before, after, elapsed)
	}
}

// selfStats reads the load generator's own process (nil off Linux): it
// shares the machine with the node it drives.
func selfStats() *ProcessStats {
	st, err := ReadProcessStats(os.Getpid())
	if err != nil {
		return nil
	}
	return &st
}

// addSelfStats adds the load generator's peak memory and CPU over the
// phase to res.
func addSelfStats(res *Result, before, after *ProcessStats, elapsed time.Duration) {
	if before == nil || after == nil {
		return
	}
	res.SelfPeakRSSMiB = mib(after.PeakRSSBytes)
	res.SelfCPUPercent = cpuPercent(before, after, elapsed)
}

func cpuPercent(before, after *ProcessStats, elapsed time.Duration) float64 {
	return 100 * (after.CPU - before.CPU).Seconds() / elapsed.Seconds()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// percentiles returns p50, p99 and max in milliseconds.
func percentiles(d []time.Duration) (p50, p99, maxMS float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	at := func(q float64) time.Duration { return d[min(int(q*float64(len(d))), len(d)-1)] }
	return ms(at(0.50)), ms(at(0.99)), ms(d[len(d)-1])
}
