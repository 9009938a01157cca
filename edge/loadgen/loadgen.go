// Package loadgen drives a running edge node the way a building full of
// attendees would: many concurrent sessions placing orders over HTTP, while
// a tablet subscribed over MQTT timestamps every order event it receives.
// `pantry edge loadtest` runs it; `make bench` reports its figures.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
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
	Username  string // a tablet login, for the MQTT subscriber and restocking
	Password  string
	RoomCodes []string
	// Attendees is the number of concurrent attendee sessions.
	Attendees int
	// Rate is the target orders per second; 0 means as fast as the node
	// answers (closed loop).
	Rate     float64
	Duration time.Duration
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
	MQTTReceived   int            `json:"mqtt_received"`
	MQTTP50ms      float64        `json:"mqtt_delivery_p50_ms"`
	MQTTP99ms      float64        `json:"mqtt_delivery_p99_ms"`
	MQTTMaxms      float64        `json:"mqtt_delivery_max_ms"`
	MQTTMissing    int            `json:"mqtt_missing"`
	BehindSchedule int            `json:"behind_schedule"`
}

// String formats r as one human line.
func (r Result) String() string {
	return fmt.Sprintf("%d attendees, %.0f s: %d orders, %.0f orders/s, latency p50 %.1f ms p99 %.1f ms max %.1f ms; "+
		"order→tablet p50 %.1f ms p99 %.1f ms (%d/%d delivered); errors %v",
		r.Attendees, r.Seconds, r.Orders, r.OrdersPerSec, r.LatencyP50ms, r.LatencyP99ms, r.LatencyMaxms,
		r.MQTTP50ms, r.MQTTP99ms, r.MQTTReceived, r.Orders, r.Errors)
}

type run struct {
	cfg    Config
	client *http.Client
	items  []string
	sent   sync.Map // note -> send time
	seq    atomic.Int64

	mu        sync.Mutex
	latencies []time.Duration
	errors    map[string]int
	deliver   []time.Duration
	behind    int
}

// Run drives the node for cfg.Duration and reports what it measured.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Attendees <= 0 {
		cfg.Attendees = 64
	}
	r := &run{
		cfg:    cfg,
		errors: map[string]int{},
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Attendees, MaxConnsPerHost: cfg.Attendees},
		},
	}
	defer r.client.CloseIdleConnections()
	staff, err := r.login(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := r.restock(ctx, staff); err != nil {
		return Result{}, err
	}
	tokens, err := r.sessions(ctx)
	if err != nil {
		return Result{}, err
	}
	sub, err := subscribe(ctx, cfg, r.received)
	if err != nil {
		return Result{}, err
	}
	defer sub.close()
	start := time.Now()
	r.drive(ctx, tokens)
	elapsed := time.Since(start)
	r.settle(ctx)
	return r.result(elapsed), nil
}

func (r *run) drive(ctx context.Context, tokens []string) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
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

// received is the MQTT subscriber's callback for each order event.
func (r *run) received(payload []byte, at time.Time) {
	var ev struct {
		Event string
		Order struct{ Note string }
	}
	if json.Unmarshal(payload, &ev) != nil || ev.Event != "order.created" {
		return
	}
	if v, ok := r.sent.LoadAndDelete(ev.Order.Note); ok {
		r.mu.Lock()
		r.deliver = append(r.deliver, at.Sub(v.(time.Time)))
		r.mu.Unlock()
	}
}

// settle waits (bounded) for the last order events to arrive.
func (r *run) settle(ctx context.Context) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r.mu.Lock()
		done := len(r.deliver) >= len(r.latencies)
		r.mu.Unlock()
		if done {
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
		Orders: len(r.latencies), Errors: r.errors, MQTTReceived: len(r.deliver), BehindSchedule: r.behind,
	}
	res.OrdersPerSec = float64(res.Orders) / elapsed.Seconds()
	res.LatencyP50ms, res.LatencyP99ms, res.LatencyMaxms = percentiles(r.latencies)
	res.MQTTP50ms, res.MQTTP99ms, res.MQTTMaxms = percentiles(r.deliver)
	res.MQTTMissing = max(res.Orders-res.MQTTReceived, 0)
	return res
}

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

func (r *run) do(ctx context.Context, method, path, token string, body []byte, headers ...string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

func (r *run) call(ctx context.Context, method, path, token string, in, out any, want int) error {
	body, _ := json.Marshal(in)
	status, raw, err := r.do(ctx, method, path, token, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d: %s", method, path, status, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (r *run) login(ctx context.Context) (string, error) {
	var res struct{ Token string }
	err := r.call(ctx, "POST", "/api/v1/staff/login", "", map[string]string{"username": r.cfg.Username, "password": r.cfg.Password}, &res, http.StatusOK)
	return res.Token, err
}

// restock tops every item up so the run measures ordering, not sell-outs.
func (r *run) restock(ctx context.Context, staff string) error {
	var stock struct {
		Items []pantry.StockLevel
	}
	if err := r.call(ctx, "GET", "/api/v1/staff/stock", staff, nil, &stock, http.StatusOK); err != nil {
		return err
	}
	for _, it := range stock.Items {
		r.items = append(r.items, it.ItemID)
		if it.Level >= pantry.MaxStockDelta {
			continue
		}
		mv := map[string]any{"item_id": it.ItemID, "delta": pantry.MaxStockDelta, "reason": "restock"}
		if err := r.call(ctx, "POST", "/api/v1/staff/stock/movements", staff, mv, nil, http.StatusCreated); err != nil {
			return err
		}
		if err := r.call(ctx, "POST", "/api/v1/staff/items/"+it.ItemID+"/availability", staff, map[string]bool{"available": true}, nil, http.StatusOK); err != nil {
			return err
		}
	}
	if len(r.items) == 0 {
		return errors.New("the node has no items to order")
	}
	return nil
}

func (r *run) sessions(ctx context.Context) ([]string, error) {
	tokens := make([]string, r.cfg.Attendees)
	for i := range tokens {
		var res struct{ Token string }
		code := r.cfg.RoomCodes[i%len(r.cfg.RoomCodes)]
		if err := r.call(ctx, "POST", "/api/v1/sessions", "", map[string]string{"space_code": code}, &res, http.StatusCreated); err != nil {
			return nil, err
		}
		tokens[i] = res.Token
	}
	return tokens, nil
}
