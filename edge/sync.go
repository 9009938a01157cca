package edge

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/edge/syncer"
	"github.com/pantry/pantry/internal/buildinfo"
	"github.com/pantry/pantry/syncproto"
)

// newSyncWorker makes the sync worker of an enrolled node (nil for a demo
// node, which replicates nothing) and registers its metrics.
func (n *Node) newSyncWorker(ctx context.Context, reg *prometheus.Registry) error {
	id, ok, err := n.store.Identity(ctx)
	if err != nil || !ok {
		return err
	}
	if n.cfg.CloudURL != "" {
		id.CloudURL = n.cfg.CloudURL
	}
	n.sync = syncer.New(syncer.Config{
		Store: n.store, Identity: id, SoftwareVersion: buildinfo.Version(), Log: n.log, Now: n.cfg.Now,
		HTTP:       n.cfg.SyncHTTP,
		MinBackoff: n.cfg.SyncMinBackoff, MaxBackoff: n.cfg.SyncMaxBackoff,
		Status: func() syncproto.EdgeStatus {
			return syncproto.EdgeStatus{TabletsOnline: len(n.bus.Presence().Tablets)}
		},
		OnPull: func(ch sqlite.PullChanges) {
			n.announcePulledStock(ch.Stock)
			if ch.Config { // tablets may have been revoked or given new passwords
				poke(n.credWake)
			}
		},
	})
	n.store.OnCommit(n.sync.Wake)
	reg.MustRegister(&syncCollector{w: n.sync})
	return nil
}

// announcePulledStock publishes stock the cloud moved as the web app
// publishes local moves: the new levels, and an alert for each item taken
// low. Failures are logged, not returned: the pull is already committed,
// and the store, which tablets can resync from, holds the new levels.
func (n *Node) announcePulledStock(changes []sqlite.StockChange) {
	for _, ch := range changes {
		if err := n.bus.PublishStockChange(n.site.ID, ch.Level, ch.BecameLow); err != nil {
			n.log.Warn("publish stock", "item_id", ch.Level.ItemID, "err", err)
		}
	}
}

// syncCollector exposes the sync worker's view of the WAN link.
type syncCollector struct{ w *syncer.Worker }

var (
	syncLastPush = prometheus.NewDesc("pantry_sync_last_push_timestamp_seconds", "When the last push to the cloud succeeded (0: never since start).", nil, nil)
	syncLastPull = prometheus.NewDesc("pantry_sync_last_pull_timestamp_seconds", "When the last pull from the cloud succeeded (0: never since start).", nil, nil)
	syncFailures = prometheus.NewDesc("pantry_sync_consecutive_failures", "Failed sync attempts in a row, by direction.", []string{"direction"}, nil)
	syncSkew     = prometheus.NewDesc("pantry_sync_clock_skew_seconds", "This node's clock minus the cloud's, last measured.", nil, nil)
	syncAcked    = prometheus.NewDesc("pantry_sync_acked_seq", "The newest outbox seq the cloud has acknowledged.", nil, nil)
	syncRefused  = prometheus.NewDesc("pantry_sync_refused", "1 when the cloud refuses this node's credential or version: re-enroll or upgrade.", nil, nil)
	syncDead     = prometheus.NewDesc("pantry_sync_dead_lettered_total", "Events of this node the cloud could not apply and kept as dead letters, since the node started.", nil, nil)
)

func (c *syncCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{syncLastPush, syncLastPull, syncFailures, syncSkew, syncAcked, syncRefused, syncDead} {
		ch <- d
	}
}

func (c *syncCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.w.Status()
	unix := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(syncLastPush, prometheus.GaugeValue, unix(st.LastPush))
	ch <- prometheus.MustNewConstMetric(syncLastPull, prometheus.GaugeValue, unix(st.LastPull))
	ch <- prometheus.MustNewConstMetric(syncFailures, prometheus.GaugeValue, float64(st.PushFailures), "push")
	ch <- prometheus.MustNewConstMetric(syncFailures, prometheus.GaugeValue, float64(st.PullFailures), "pull")
	skew := 0.0
	if st.ClockSkew != nil {
		skew = st.ClockSkew.Seconds()
	}
	ch <- prometheus.MustNewConstMetric(syncSkew, prometheus.GaugeValue, skew)
	ch <- prometheus.MustNewConstMetric(syncAcked, prometheus.GaugeValue, float64(st.AckedSeq))
	refused := 0.0
	if st.RefusedPermanently {
		refused = 1
	}
	ch <- prometheus.MustNewConstMetric(syncRefused, prometheus.GaugeValue, refused)
	ch <- prometheus.MustNewConstMetric(syncDead, prometheus.CounterValue, float64(st.DeadLettered))
}
