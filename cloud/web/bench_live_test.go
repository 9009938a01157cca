package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The live orders page across instances, timed: an edge node enrolled at
// a seeded site pushes orders through instance A, one push per order as
// an online edge does (the order, its payment and its stock movement),
// while a signed-in browser's stream on instance B (GET /orders/events)
// hears of them, and fetches each new order's row as dashboard.js does.
// Two latencies, both from the moment the push was sent: until B's
// stream carried the order, and until B answered its row.

// liveTimes collects the live benchmark's latencies.
type liveTimes struct {
	mu                sync.Mutex
	push, event, row  []time.Duration
	sent, resyncs     int
	pushErrs, rowErrs []string
}

// liveOrders runs the live benchmark, with the dashboard's pages asked
// for at pageRate a second meanwhile (none if 0), and reports.
func (e *pageBench) liveOrders(b *testing.B, rate int, dur time.Duration, pageRate int) {
	org := e.orgs[0]
	site := org.Sites[0]
	token := e.cloudA.Login(b, org.email, cloudtest.Password).AccessToken
	node, credential := cloudtest.EnrollNode(b, e.cloudA, token, site.ID)
	var lt liveTimes
	var seq int64
	var pages samples
	for range b.N {
		var browsing sync.WaitGroup
		if pageRate > 0 {
			browsing.Go(func() { pages.merge(e.openLoop(pageRate, dur)) })
		}
		e.liveRun(b, &lt, org, site, node, credential, &seq, rate, dur)
		browsing.Wait()
	}
	if pageRate > 0 {
		e.report(b, fmt.Sprintf("meanwhile, pages from A in open loop at %d pages/s", pageRate), &pages)
	}
	var t strings.Builder
	fmt.Fprintf(&t, "%d orders pushed through A at %d/s, heard on B's live stream: %d (%d resyncs)\n%-34s %7s %9s %9s %9s\n",
		lt.sent, rate, len(lt.event), lt.resyncs, "from the push sent until", "n", "p50 ms", "p99 ms", "max ms")
	for _, r := range []struct {
		name string
		d    []time.Duration
	}{{"A answered the push", lt.push}, {"B's stream carried the order", lt.event}, {"B answered the order's row", lt.row}} {
		p50, p99, mx := percentiles(r.d)
		fmt.Fprintf(&t, "%-34s %7d %9.1f %9.1f %9.1f\n", r.name, len(r.d), ms(p50), ms(p99), ms(mx))
	}
	b.Log(t.String())
	p50, p99, mx := percentiles(lt.event)
	b.ReportMetric(ms(p50), "event-p50-ms")
	b.ReportMetric(ms(p99), "event-p99-ms")
	b.ReportMetric(ms(mx), "event-max-ms")
	_, p99, _ = percentiles(lt.row)
	b.ReportMetric(ms(p99), "row-p99-ms")
	b.ReportMetric(float64(lt.sent-len(lt.event)), "missing")
	if missing := lt.sent - len(lt.event); missing > 0 {
		b.Errorf("%d of %d orders never reached B's live stream", missing, lt.sent)
	}
	if errs := append(lt.pushErrs, lt.rowErrs...); len(errs) > 0 {
		b.Errorf("%d pushes or rows failed; the first: %s", len(errs), errs[0])
	}
}

// liveRun pushes rate orders a second for dur while B's stream listens,
// then waits (10 s at most) for the stream to carry the last of them.
func (e *pageBench) liveRun(b *testing.B, lt *liveTimes, org benchOrg, site postgres.SeededSite, node, credential string,
	seq *int64, rate int, dur time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sent sync.Map // order id -> time.Time the push was sent
	var heard atomic.Int64
	ended := make(chan struct{})
	var rows sync.WaitGroup
	stream := e.openStream(b, ctx, org.session)
	go func() {
		defer close(ended)
		readEvents(stream, func(event, data string) {
			switch event {
			case "resync":
				lt.mu.Lock()
				lt.resyncs++
				lt.mu.Unlock()
			case "order":
				var ev struct{ ID string }
				if json.Unmarshal([]byte(data), &ev) != nil {
					return
				}
				at, ok := sent.LoadAndDelete(ev.ID)
				if !ok {
					return // not one of this run's new orders
				}
				since := at.(time.Time)
				lt.mu.Lock()
				lt.event = append(lt.event, time.Since(since))
				lt.mu.Unlock()
				heard.Add(1)
				rows.Go(func() { e.fetchRow(lt, org.session, ev.ID, since) })
			}
		})
	}()

	interval := time.Second / time.Duration(rate)
	n := int(dur / interval)
	pushed := 0
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		push, id := placedPush(node, seq, org, site, i)
		now := time.Now()
		sent.Store(id, now)
		err := e.push(credential, push)
		took := time.Since(now)
		lt.mu.Lock()
		if err != nil {
			sent.Delete(id)
			lt.pushErrs = append(lt.pushErrs, err.Error())
		} else {
			lt.push = append(lt.push, took)
			lt.sent++
			pushed++
		}
		lt.mu.Unlock()
	}
	for deadline := time.Now().Add(10 * time.Second); heard.Load() < int64(pushed) && time.Now().Before(deadline); {
		select {
		case <-ended:
			b.Fatalf("B's stream ended after %d of %d orders", heard.Load(), pushed)
		case <-time.After(10 * time.Millisecond):
		}
	}
	rows.Wait()
}

// openStream opens B's live orders stream as a signed-in page does and
// returns it once the server has said it is open.
func (e *pageBench) openStream(b *testing.B, ctx context.Context, session string) *bufio.Reader {
	b.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.cloudB.URL+"/orders/events", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Cookie", "pantry_session="+session)
	req.Header.Set("Accept", "text/event-stream")
	// No client timeout: the stream lives as long as the run.
	resp, err := (&http.Client{Transport: e.client.Transport}).Do(req)
	if err != nil {
		b.Fatalf("open B's live stream: %v", err)
	}
	context.AfterFunc(ctx, func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("open B's live stream: %d", resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		b.Fatalf("read B's live stream: %v", err)
	}
	return r
}

// readEvents calls on with each Server-Sent Event of r until r ends.
func readEvents(r *bufio.Reader, on func(event, data string)) {
	var event, data string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if event != "" {
				on(event, data)
			}
			event, data = "", ""
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
}

// fetchRow asks B for an order's row, as the page's script does on
// hearing of it.
func (e *pageBench) fetchRow(lt *liveTimes, session, id string, since time.Time) {
	status, body := e.get(e.cloudB.URL, session, "/orders/"+id+"/row")
	took := time.Since(since)
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if status != http.StatusOK {
		lt.rowErrs = append(lt.rowErrs, fmt.Sprintf("GET /orders/%s/row: %d %s", id, status, firstLine(body)))
		return
	}
	lt.row = append(lt.row, took)
}

// placedPush is what an edge pushes when it takes an order: the order,
// its payment and its stock movement, the node's next three events.
func placedPush(node string, seq *int64, org benchOrg, site postgres.SeededSite, i int) (syncproto.PushRequest, string) {
	now := time.Now().UTC()
	money := func(n int64) syncproto.Money { return syncproto.Money{Amount: n, Currency: site.Currency} }
	id, item := pantry.NewID(), org.Items[i%len(org.Items)]
	order := syncproto.OrderPlaced{ID: id, SiteID: site.ID, SpaceID: site.Spaces[i%len(site.Spaces)], Status: "placed",
		Lines:     []syncproto.OrderLine{{ItemID: item, Name: "Coffee", Quantity: 2, UnitPrice: money(250), LineTotal: money(500)}},
		DeliverTo: "room", Subtotal: money(500), Discount: money(0), Total: money(500), Payment: "complimentary", CatalogRev: 1,
		CreatedAt: now, UpdatedAt: now}
	payment := syncproto.PaymentRecorded{ID: pantry.NewID(), OrderID: id, Method: "complimentary", Amount: money(500), Discount: money(0), CreatedAt: now}
	move := syncproto.StockMovement{ID: pantry.NewID(), SiteID: site.ID, ItemID: item, Delta: -2, Reason: "sale", OrderID: id, CreatedAt: now}
	req := syncproto.PushRequest{Version: syncproto.Version, NodeID: node, SoftwareVersion: "bench", SentAt: now}
	for _, ev := range []struct {
		typ, entity string
		payload     any
	}{{syncproto.EventOrderPlaced, id, order}, {syncproto.EventPaymentRecorded, id, payment}, {syncproto.EventStockMoved, move.ID, move}} {
		raw, _ := json.Marshal(ev.payload)
		*seq++
		req.Events = append(req.Events, syncproto.Event{Seq: *seq, ID: pantry.NewID(), Type: ev.typ, Schema: 1, EntityID: ev.entity, Payload: raw, CreatedAt: now})
	}
	req.OutboxHead = *seq
	return req, id
}

// push sends a push to A as the node and checks that A applied it all.
func (e *pageBench) push(credential string, push syncproto.PushRequest) error {
	raw, err := json.Marshal(push)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, e.cloudA.URL+syncproto.PathPush, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+credential)
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	defer resp.Body.Close()
	var out syncproto.PushResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("push: %d (%v)", resp.StatusCode, err)
	}
	last := push.Events[len(push.Events)-1].Seq
	if out.AppliedSeq != last || len(out.DeadLettered) > 0 {
		return fmt.Errorf("push up to %d: applied to %d, dead letters %v", last, out.AppliedSeq, out.DeadLettered)
	}
	return nil
}

func percentiles(d []time.Duration) (p50, p99, mx time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[min(int(p*float64(len(d))), len(d)-1)] }
	return at(0.50), at(0.99), d[len(d)-1]
}
