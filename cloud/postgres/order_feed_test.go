package postgres

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// feedWait is how long a test waits for a change it expects: they come
// in milliseconds.
const feedWait = 10 * time.Second

// instances opens two stores on one new database, as two cloud
// instances behind one address are, and a superuser connection to it.
func instances(tb testing.TB) (a, b *Store, super *pgx.Conn) {
	tb.Helper()
	url := migratedDB(tb, MigrateOptions{})
	return mustOpen(tb, url, Options{}), mustOpen(tb, url, Options{}), mustConnect(tb, url)
}

// nextChange returns the next change on ch, failing if none comes.
func nextChange(tb testing.TB, ch <-chan cloud.OrderChange) cloud.OrderChange {
	tb.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			tb.Fatal("the order feed's channel was closed")
		}
		return c
	case <-time.After(feedWait):
		tb.Fatal("no order change came")
	}
	return cloud.OrderChange{}
}

func wantResync(tb testing.TB, ch <-chan cloud.OrderChange) {
	tb.Helper()
	if got := nextChange(tb, ch); got.Event != cloud.OrdersResync {
		tb.Fatalf("got %+v, want a resync", got)
	}
}

// pending returns what ch holds, without waiting.
func pending(ch <-chan cloud.OrderChange) []cloud.OrderChange {
	var out []cloud.OrderChange
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, c)
		default:
			return out
		}
	}
}

// storedChange is the change a subscriber should see for order id of
// sh's site 0 as the database has it now.
func storedChange(tb testing.TB, s *Store, sh shop, event, id string) cloud.OrderChange {
	tb.Helper()
	o, err := s.GetOrder(context.Background(), sh.org, id)
	if err != nil {
		tb.Fatal(err)
	}
	return cloud.OrderChange{Event: event, OrgID: sh.org, SiteID: sh.sites[0], OrderID: id, Status: o.Status, UpdatedAt: o.UpdatedAt}
}

func wantChange(tb testing.TB, got, want cloud.OrderChange) {
	tb.Helper()
	sameTime := got.UpdatedAt.Equal(want.UpdatedAt)
	got.UpdatedAt = want.UpdatedAt
	if got != want || !sameTime {
		tb.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// TestOrderFeedAcrossInstances: orders pushed through one instance reach
// the subscribers of their organization on another, in order, and no
// one else's.
func TestOrderFeedAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b, _ := instances(t)
	sh, other := newShop(t, a, "A"), newShop(t, a, "B")
	mine, cancel := b.SubscribeOrders(strings.ToUpper(sh.org)) // an id is an id, whatever its case
	defer cancel()
	theirs, cancelTheirs := b.SubscribeOrders(other.org)
	defer cancelTheirs()
	// They subscribed before the listener was connected: they may have
	// missed something, and are told so once it is.
	wantResync(t, mine)
	wantResync(t, theirs)
	g := newEdgeSim(t, a, sh)
	o, events := g.place(false)

	t.Run("Placed", func(t *testing.T) {
		push(t, a, sh, events...)
		wantChange(t, nextChange(t, mine), storedChange(t, a, sh, cloud.OrderCreated, o.id))
	})
	t.Run("StatusChanged", func(t *testing.T) {
		push(t, a, sh, g.change(o, "accepted")...)
		got := nextChange(t, mine)
		wantChange(t, got, storedChange(t, a, sh, cloud.OrderUpdated, o.id))
		if got.Status != pantry.StatusAccepted {
			t.Errorf("status %s, want accepted", got.Status)
		}
	})
	t.Run("ChangesOfOnePushComeOnce", func(t *testing.T) {
		push(t, a, sh, append(g.change(o, "preparing"), g.change(o, "ready")...)...)
		got := nextChange(t, mine)
		wantChange(t, got, storedChange(t, a, sh, cloud.OrderUpdated, o.id))
		if got.Status != pantry.StatusReady {
			t.Errorf("status %s, want ready", got.Status)
		}
	})
	t.Run("OtherTenant", func(t *testing.T) {
		h := newEdgeSim(t, a, other)
		theirOrder, events := h.place(false)
		push(t, a, other, events...)
		if got := nextChange(t, theirs); got.OrderID != theirOrder.id || got.OrgID != other.org {
			t.Fatalf("their subscriber got %+v, want their order %s", got, theirOrder.id)
		}
		// Had their order reached mine, it would come before my next.
		next, events := g.place(false)
		push(t, a, sh, events...)
		wantChange(t, nextChange(t, mine), storedChange(t, a, sh, cloud.OrderCreated, next.id))
		if got := pending(theirs); len(got) > 0 {
			t.Errorf("their subscriber got %+v, want nothing of another organization", got)
		}
	})
	t.Run("RefusedEventsAnnounceNothing", func(t *testing.T) {
		// An order, a change of an order the site does not have (dead
		// lettered), another order: the set is refused, then written in
		// parts; only what was written is announced.
		first, events := g.place(false)
		events = append(events, g.change(&simOrder{id: pantry.NewID(), status: "placed"}, "accepted")...)
		second, more := g.place(false)
		resp := push(t, a, sh, append(events, more...)...)
		if len(resp.DeadLettered) != 1 {
			t.Fatalf("dead lettered %v, want the change", resp.DeadLettered)
		}
		wantChange(t, nextChange(t, mine), storedChange(t, a, sh, cloud.OrderCreated, first.id))
		wantChange(t, nextChange(t, mine), storedChange(t, a, sh, cloud.OrderCreated, second.id))
		time.Sleep(100 * time.Millisecond)
		if got := pending(mine); len(got) > 0 {
			t.Errorf("got %+v, want nothing more", got)
		}
	})
	t.Run("InsertOrders", func(t *testing.T) {
		o := sh.order(orderSpec{at: t0, qty: [2]int{1, 0}})
		mustInsert(t, a, sh.org, o)
		wantChange(t, nextChange(t, mine), storedChange(t, a, sh, cloud.OrderCreated, o.ID))
	})
}

// TestOrderFeedResyncsAfterReconnect: a listener whose connection is
// killed tells its subscribers to resync once it listens again, and
// changes flow again.
func TestOrderFeedResyncsAfterReconnect(t *testing.T) {
	t.Parallel()
	a, b, super := instances(t)
	sh := newShop(t, a, "A")
	ch, cancel := b.SubscribeOrders(sh.org)
	defer cancel()
	wantResync(t, ch) // b's listener listens; a never started one
	var killed int
	err := super.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, listenerApplication).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("killed %d listeners (%v), want 1", killed, err)
	}
	wantResync(t, ch)
	g := newEdgeSim(t, a, sh)
	o, events := g.place(false)
	push(t, a, sh, events...)
	wantChange(t, nextChange(t, ch), storedChange(t, a, sh, cloud.OrderCreated, o.id))
}

// TestOrderFeedSlowSubscriber: a subscriber that does not read holds a
// resync and the latest changes, never more than its buffer, and the
// others get every change meanwhile.
func TestOrderFeedSlowSubscriber(t *testing.T) {
	t.Parallel()
	a, b, _ := instances(t)
	b.feed.orders.buffer = 4
	sh := newShop(t, a, "A")
	slow, cancelSlow := b.SubscribeOrders(sh.org)
	defer cancelSlow()
	fast, cancelFast := b.SubscribeOrders(sh.org)
	defer cancelFast()
	wantResync(t, fast) // and slow holds one
	g := newEdgeSim(t, a, sh)
	var ids []string
	for range 10 {
		o, events := g.place(false)
		push(t, a, sh, events...)
		ids = append(ids, o.id)
		if got := nextChange(t, fast); got.OrderID != o.id {
			t.Fatalf("the reading subscriber got %+v, want order %s", got, o.id)
		}
	}
	// slow held [resync 1 2 3], overflowed at 4 to [resync], then
	// [resync 5 6 7], [resync], [resync 9 10].
	got := pending(slow)
	if len(got) != 3 || got[0].Event != cloud.OrdersResync || got[1].OrderID != ids[8] || got[2].OrderID != ids[9] {
		t.Fatalf("the slow subscriber holds %+v, want a resync then orders %v", got, ids[8:])
	}
}

// TestOrderFeedBigPush: a push of 500 orders announces each once, in
// the order placed, with payloads far below PostgreSQL's 8000 bytes.
func TestOrderFeedBigPush(t *testing.T) {
	t.Parallel()
	a, _, super := instances(t)
	sh := newShop(t, a, "A")
	if _, err := super.Exec(t.Context(), "LISTEN "+orderChannel); err != nil {
		t.Fatal(err)
	}
	g := newEdgeSim(t, a, sh)
	var ids []string
	var events []syncproto.Event
	for range 500 {
		o, evs := g.place(false)
		ids, events = append(ids, o.id), append(events, evs...)
	}
	start := time.Now()
	push(t, a, sh, events...)
	t.Logf("a push of %d events, %d orders: %v", len(events), len(ids), time.Since(start))
	longest := 0
	for i, id := range ids {
		ctx, cancel := context.WithTimeout(t.Context(), feedWait)
		n, err := super.WaitForNotification(ctx)
		cancel()
		if err != nil {
			t.Fatalf("notification %d: %v", i, err)
		}
		c, ok := parseOrderNote(n.Payload)
		if !ok || c.OrderID != id || c.Event != cloud.OrderCreated || c.OrgID != sh.org {
			t.Fatalf("notification %d: %s, want order %s created", i, n.Payload, id)
		}
		longest = max(longest, len(n.Payload))
	}
	if longest > 300 {
		t.Errorf("a payload of %d bytes, want about 230", longest)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if n, err := super.WaitForNotification(ctx); err == nil {
		t.Errorf("one notification too many: %s", n.Payload)
	}
}

// TestOrderFeedListen: after Listen (as a server starts), a subscriber
// hears the first change committed after it subscribed, with no resync
// before it.
func TestOrderFeedListen(t *testing.T) {
	t.Parallel()
	a, b, _ := instances(t)
	sh := newShop(t, a, "A")
	if err := b.Listen(t.Context()); err != nil {
		t.Fatal(err)
	}
	ch, cancel := b.SubscribeOrders(sh.org)
	defer cancel()
	o := sh.order(orderSpec{at: t0, qty: [2]int{1, 0}})
	mustInsert(t, a, sh.org, o)
	wantChange(t, nextChange(t, ch), storedChange(t, a, sh, cloud.OrderCreated, o.ID))

	b.Close()
	if err := b.Listen(t.Context()); err == nil {
		t.Error("Listen on a closed store: no error")
	}
	closed := newTestStore(t)
	closed.Close()
	if err := closed.Listen(t.Context()); err == nil {
		t.Error("Listen on a store closed before it listened: no error")
	}
}

// TestOrderFeedClose: closing the store closes its subscribers'
// channels, and a subscription after that is closed at once.
func TestOrderFeedClose(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	ch, cancel := s.SubscribeOrders(sh.org)
	wantResync(t, ch)
	s.Close()
	if _, ok := <-ch; ok {
		t.Error("the channel is open after Close")
	}
	cancel() // after Close: does nothing
	late, cancelLate := s.SubscribeOrders(sh.org)
	defer cancelLate()
	if _, ok := <-late; ok {
		t.Error("a subscription after Close is open")
	}
}

// TestOrderFeedCancel: cancel closes the channel and forgets it.
func TestOrderFeedCancel(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	org := pantry.NewID()
	ch, cancel := s.SubscribeOrders(org)
	cancel()
	cancel()
	for range ch { // a resync, perhaps, then closed
	}
	s.feed.orders.mu.Lock()
	defer s.feed.orders.mu.Unlock()
	if n := len(s.feed.orders.byOrg); n != 0 {
		t.Errorf("%d organizations still subscribed", n)
	}
}

func TestParseOrderNote(t *testing.T) {
	t.Parallel()
	org, site, order := pantry.NewID(), pantry.NewID(), pantry.NewID()
	note := func(edit func(n *orderNote)) string {
		n := orderNote{Org: strings.ToUpper(org), Site: site, Order: order, Status: "ready", UpdatedAt: t0, Created: false}
		if edit != nil {
			edit(&n)
		}
		b, _ := json.Marshal(n)
		return string(b)
	}
	got, ok := parseOrderNote(note(nil))
	want := cloud.OrderChange{Event: cloud.OrderUpdated, OrgID: org, SiteID: site, OrderID: order, Status: pantry.StatusReady, UpdatedAt: t0}
	if !ok || got != want {
		t.Errorf("got %+v, %v; want %+v", got, ok, want)
	}
	for name, payload := range map[string]string{
		"NotJSON":      "org/site",
		"NoOrg":        note(func(n *orderNote) { n.Org = "" }),
		"BadOrder":     note(func(n *orderNote) { n.Order = "x" }),
		"BadStatus":    note(func(n *orderNote) { n.Status = "lost" }),
		"NoUpdateTime": note(func(n *orderNote) { n.UpdatedAt = time.Time{} }),
	} {
		t.Run(name, func(t *testing.T) {
			if got, ok := parseOrderNote(payload); ok {
				t.Errorf("%s read as %+v", payload, got)
			}
		})
	}
}

// BenchmarkOrderFeed measures how long an order takes from a push
// through one instance to a subscriber on another, over one database,
// and reports percentiles in milliseconds (run Placed and StatusChanged
// with -benchtime=1000x for a thousand orders):
//
//   - Placed: one order per push, as an online edge pushes; "push" is
//     the push alone (decode, transaction, commit), "seen" from the
//     push's start until the subscriber has the order, "after" what
//     seen adds to push.
//   - StatusChanged: one status change per push, of an order placed
//     before the timer.
//   - Batch500: a catch-up push of 500 orders (about 1,900 events);
//     "seen" is until the subscriber has the last of them, or a resync
//     if it fell more than a buffer behind (counted as resyncs/op).
//
// The subscriber reads as an SSE handler does, all the time, stamping
// each change as it comes.
func BenchmarkOrderFeed(b *testing.B) {
	a, c, _ := instances(b)
	sh := newShop(b, a, "bench")
	g := newEdgeSim(b, a, sh)
	ch, cancel := c.SubscribeOrders(sh.org)
	defer cancel() // closes ch, which ends the reader
	wantResync(b, ch)
	type arrival struct {
		c  cloud.OrderChange
		at time.Time
	}
	arrivals := make(chan arrival, 4096)
	go func() {
		for c := range ch {
			arrivals <- arrival{c, time.Now()}
		}
	}()
	// seen waits for the change of order id, or a resync.
	seen := func(id string) (at time.Time, resync bool) {
		for {
			select {
			case got := <-arrivals:
				if got.c.Event == cloud.OrdersResync || got.c.OrderID == id {
					return got.at, got.c.Event == cloud.OrdersResync
				}
			case <-time.After(feedWait):
				b.Fatalf("order %s was not seen", id)
			}
		}
	}
	// measure pushes events and waits for order id.
	type sample struct{ push, seen time.Duration }
	measure := func(b *testing.B, id string, events []syncproto.Event) (sample, bool) {
		start := time.Now()
		push(b, a, sh, events...)
		pushed := time.Since(start)
		at, resync := seen(id)
		return sample{pushed, at.Sub(start)}, resync
	}
	report := func(b *testing.B, samples []sample) {
		var pushed, seenAt, after []time.Duration
		for _, s := range samples {
			pushed, seenAt, after = append(pushed, s.push), append(seenAt, s.seen), append(after, max(s.seen-s.push, 0))
		}
		reportLatency(b, "push", pushed)
		reportLatency(b, "seen", seenAt)
		reportLatency(b, "after", after)
	}
	b.Run("Placed", func(b *testing.B) {
		var samples []sample
		for b.Loop() {
			o, events := g.place(false)
			s, resync := measure(b, o.id, events)
			if resync {
				b.Fatal("a resync")
			}
			samples = append(samples, s)
		}
		report(b, samples)
	})
	b.Run("StatusChanged", func(b *testing.B) {
		var samples []sample
		for b.Loop() {
			b.StopTimer()
			o, events := g.place(false)
			push(b, a, sh, events...)
			seen(o.id)
			b.StartTimer()
			s, resync := measure(b, o.id, g.change(o, "accepted"))
			if resync {
				b.Fatal("a resync")
			}
			samples = append(samples, s)
			g.forget(o)
		}
		report(b, samples)
	})
	b.Run("Batch500", func(b *testing.B) {
		var samples []sample
		resyncs := 0
		for b.Loop() {
			var events []syncproto.Event
			var last string
			for range 500 {
				o, evs := g.place(false)
				events, last = append(events, evs...), o.id
				g.forget(o)
			}
			s, resync := measure(b, last, events)
			if resync {
				resyncs++
				time.Sleep(100 * time.Millisecond) // the rest of the batch
				for len(arrivals) > 0 {
					<-arrivals
				}
			}
			samples = append(samples, s)
		}
		report(b, samples)
		b.ReportMetric(float64(resyncs)/float64(len(samples)), "resyncs/op")
	})
}

// reportLatency reports the 50th and 99th percentiles and the maximum of
// ds in milliseconds, as "<what>-p50-ms" and so on.
func reportLatency(b *testing.B, what string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(ds)))) - 1
		return float64(ds[max(i, 0)]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), what+"-p50-ms")
	b.ReportMetric(at(0.99), what+"-p99-ms")
	b.ReportMetric(at(1), what+"-max-ms")
}
