package edge

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// republish restores the broker's retained state from the store after a
// start: the open queue and every stock level. The store is the truth; the
// broker's memory does not survive a restart.
func (n *Node) republish(ctx context.Context) error {
	open, err := n.store.Orders(ctx, sqlite.OrderFilter{Status: "open"})
	if err != nil {
		return err
	}
	for _, o := range open {
		if err := n.bus.PublishQueue(n.site.ID, o); err != nil {
			return err
		}
	}
	levels, err := n.store.StockLevels(ctx)
	if err != nil {
		return err
	}
	for _, l := range levels {
		if err := n.bus.PublishStock(n.site.ID, l); err != nil {
			return err
		}
	}
	return nil
}

// startBackground starts the node's background work, each piece until
// ctx ends: session expiry, the staff presence check and the check of
// connected tablets' credentials. Wait on the result after ending ctx.
func (n *Node) startBackground(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, work := range []func(context.Context){n.sweepSessions, n.presence.run, n.checkCredentials} {
		wg.Go(func() { work(ctx) })
	}
	return &wg
}

// sweepSessions expires sessions past their time and announces each on
// pantry/{site}/sessions/{id}, until ctx ends.
func (n *Node) sweepSessions(ctx context.Context) {
	t := time.NewTicker(n.cfg.ExpiryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		expired, err := n.store.ExpireSessions(ctx)
		if err != nil {
			n.log.Warn("expire sessions", "err", err)
			continue
		}
		for _, s := range expired {
			if err := n.bus.PublishSessionExpired(n.site.ID, s); err != nil {
				n.log.Warn("publish session expiry", "session_id", s.ID, "err", err)
			}
		}
	}
}

// storeCollector exposes the outbox's depth and age at scrape time.
type storeCollector struct {
	store      *sqlite.Store
	depth, age *prometheus.Desc
	lastSeq    *prometheus.Desc
}

func newStoreCollector(s *sqlite.Store) *storeCollector {
	return &storeCollector{
		store:   s,
		depth:   prometheus.NewDesc("pantry_outbox_depth", "Outbox events not yet pushed to the cloud.", nil, nil),
		age:     prometheus.NewDesc("pantry_outbox_oldest_unpushed_age_seconds", "Age of the oldest unpushed outbox event (0 when empty).", nil, nil),
		lastSeq: prometheus.NewDesc("pantry_outbox_last_seq", "Sequence number of the newest outbox event.", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.age
	ch <- c.lastSeq
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.store.OutboxStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.depth, err)
		return
	}
	age := 0.0
	if !st.OldestUnpushed.IsZero() {
		age = time.Since(st.OldestUnpushed).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(st.Unpushed))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(c.lastSeq, prometheus.CounterValue, float64(st.LastSeq))
}

// lanAddress guesses the address phones on the office Wi-Fi reach this
// machine at: the first non-loopback IPv4 address, else localhost.
func lanAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "localhost"
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil && !ipn.IP.IsLinkLocalUnicast() {
			return ipn.IP.String()
		}
	}
	return "localhost"
}
