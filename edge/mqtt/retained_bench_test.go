package mqtt

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/pantry/pantry/internal/pantry"
)

// BenchmarkPublishWithOpenOrders measures what the edge's retained state
// costs the broker when many orders are open: the latency of publishing an
// order change while a tablet follows the whole site, and the memory the
// broker allocates per second while nothing is published at all (mochi
// v2.7.9 copies its whole retained map every second, see retained.go).
// p99-µs and max-µs count from when a publish was due, so they include the
// benchmark's own timer jitter (a few hundred µs on a small VM) and every
// publish a stall delayed; call-p99-µs is the time inside PublishOrder.
// rss-MB is the process's peak, setup included.
// Publishes are paced at one per publishEvery, a very busy pantry, so a
// run of -benchtime=10s spans ten of mochi's once-a-second sweeps. Run one
// size per process, since RSS is the process's:
//
//	go test -run '^$' -bench 'PublishWithOpenOrders/open=20000$' -benchtime 10s ./edge/mqtt/
func BenchmarkPublishWithOpenOrders(b *testing.B) {
	parent := b
	for _, open := range []int{0, 2000, 20000} {
		var f *openOrders // built once: the function runs with b.N = 1 first
		b.Run(fmt.Sprintf("open=%d", open), func(b *testing.B) {
			if f == nil {
				f = newOpenOrders(parent, open)
			}
			lat := make([]time.Duration, 0, b.N) // from when each publish was due
			svc := make([]time.Duration, 0, b.N) // inside PublishOrder only
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				// Latency counts from when the publish was due, not from
				// when it began: a stall delays every publish due during
				// it, and measuring from the start of each would hide
				// all but the first (coordinated omission).
				due := start.Add(time.Duration(i) * publishEvery)
				time.Sleep(time.Until(due))
				o := f.order(i%max(open, 1), pantry.StatusAccepted)
				began := time.Now()
				if err := f.bus.PublishOrder("S", EventOrderUpdated, o); err != nil {
					b.Fatal(err)
				}
				end := time.Now()
				lat, svc = append(lat, end.Sub(due)), append(svc, end.Sub(began))
			}
			b.StopTimer()
			slices.Sort(lat)
			slices.Sort(svc)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
			b.ReportMetric(float64(svc[len(svc)*99/100].Microseconds()), "call-p99-µs")
			b.ReportMetric(f.idleAllocMBps, "idle-alloc-MB/s")
			b.ReportMetric(rssMB(), "rss-MB")
		})
	}
}

// publishEvery paces the benchmark's publishes: 1,000 order changes a
// second, far beyond any pantry's peak.
const publishEvery = time.Millisecond

// openOrders is a broker holding open orders, with a tablet following the site.
type openOrders struct {
	bus           *Broker
	idleAllocMBps float64
}

// newOpenOrders builds the fixture; tb is the parent benchmark, which
// outlives each run of the sized one and so owns the broker.
func newOpenOrders(tb testing.TB, open int) *openOrders {
	f := &openOrders{bus: MustServe(tb, Config{})}
	tab := login(tb, f.bus, "tab-s")
	tab.drain() // a tablet that keeps up
	tab.mustSubscribe(tb, "pantry/S/#")
	for i := range open {
		if err := f.bus.PublishOrder("S", EventOrderCreated, f.order(i, pantry.StatusPlaced)); err != nil {
			tb.Fatal(err)
		}
	}
	runtime.GC()
	f.idleAllocMBps = idleAllocRate(3 * time.Second)
	return f
}

// order returns open order i, shaped like a real one (two lines, a room, a note).
func (*openOrders) order(i int, st pantry.OrderStatus) pantry.Order {
	return pantry.Order{
		ID: fmt.Sprintf("0190f0e0-0000-7000-8000-%012d", i), SiteID: "S", SpaceName: "Room 4.12 (Oak)", Status: st,
		Note: "Please bring extra cups",
		Lines: []pantry.OrderLine{
			{ItemID: "0190f0e0-0000-7000-8000-000000000001", Name: "Coffee pot (8 cups)", Quantity: 2, UnitPrice: pantry.Money{Amount: 1200, Currency: "EUR"}},
			{ItemID: "0190f0e0-0000-7000-8000-000000000002", Name: "Sandwich platter", Quantity: 1, UnitPrice: pantry.Money{Amount: 3500, Currency: "EUR"}},
		},
		Total:     pantry.Money{Amount: 5900, Currency: "EUR"},
		CreatedAt: time.Date(2025, 3, 4, 9, 30, 0, 0, time.UTC),
	}
}

// idleAllocRate is how many MB the process allocates per second over d
// while the benchmark does nothing.
func idleAllocRate(d time.Duration) float64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	time.Sleep(d)
	metrics.Read(s)
	return float64(s[0].Value.Uint64()-before) / d.Seconds() / 1e6
}

// rssMB is the process's peak resident set size (Linux), or 0.
func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkReplayOpenOrders measures how long a tablet that subscribes to
// its whole site takes to receive a queue of 20,000 open orders, from the
// SUBSCRIBE to the last order.
//
//	go test -run '^$' -bench ReplayOpenOrders -benchtime 5x ./edge/mqtt/
func BenchmarkReplayOpenOrders(b *testing.B) {
	const open = 20000
	f := newOpenOrders(b, open)
	for range b.N {
		b.StopTimer()
		tab := login(b, f.bus, "tab-s2")
		got := make(chan struct{})
		go func() {
			for n := 0; n < open; {
				select {
				case m := <-tab.msgs:
					if strings.Contains(m.Topic, "/queue/") {
						n++
					}
				case <-tab.Done():
					return
				}
			}
			close(got)
			tab.drain()
		}()
		b.StartTimer()
		tab.mustSubscribe(b, "pantry/S/#")
		select {
		case <-got:
		case <-tab.Done():
			b.Fatal("disconnected during the replay")
		case <-time.After(time.Minute):
			b.Fatal("replay incomplete after a minute")
		}
		b.StopTimer()
		_ = tab.Disconnect(&paho.Disconnect{})
		b.StartTimer()
	}
}
