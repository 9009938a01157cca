package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/edge/sqlite"
)

// BenchmarkSyncCatchUp measures how fast a building catches up after an
// outage, with real processes: an edge's link to the cloud is cut while
// attendees place orders until its outbox holds 100,000 events
// (PANTRY_BENCH_EVENTS to change), then the link comes back and the clock
// runs until the cloud's watermark for the node reaches the outbox's
// end. Reported: events/s from the link's return (which includes the
// edge noticing, up to its 1 s backoff) and from the first batch applied,
// and the CPU seconds PostgreSQL, the cloud and the edge each used
// meanwhile: what the two cores were busy with.
//
// Two mixes: Delivered, a building's real day, where staff take every
// order through accepted, preparing, ready and delivered (about 7 events
// per order); and Placed, orders nobody works (3 events per order: the
// order, its payment and its stock movement, each heavier to apply than a
// status change).
func BenchmarkSyncCatchUp(b *testing.B) {
	b.Run("Delivered", func(b *testing.B) { benchCatchUp(b, true) })
	b.Run("Placed", func(b *testing.B) { benchCatchUp(b, false) })
}

func benchCatchUp(b *testing.B, work bool) {
	target := int64(envInt(b, "PANTRY_BENCH_EVENTS", 100_000))
	for range b.N {
		b.StopTimer()
		w := newWorld(b)
		w.start(1)
		e := w.edges[0]
		for _, item := range w.items {
			w.api("POST", "/api/v1/sites/"+e.siteID+"/stock/movements", map[string]any{"item_id": item, "delta": 100_000, "reason": "restock"}, 201)
		}
		w.waitConverged(time.Minute)
		var nodeID string
		if err := w.db.QueryRow(context.Background(), `SELECT id FROM edge_nodes WHERE site_id = $1 AND revoked_at IS NULL`, e.siteID).Scan(&nodeID); err != nil {
			b.Fatal(err)
		}
		e.link.setUp(false)
		queued := time.Now()
		last := w.fillOutbox(e, target, work)
		b.Logf("queued %d events in %s with the link down", last, time.Since(queued).Round(time.Millisecond))
		var before int64
		w.db.QueryRow(context.Background(), `SELECT applied_seq FROM edge_nodes WHERE id = $1`, nodeID).Scan(&before)

		cpuBefore := w.cpuSample(e)
		b.StartTimer()
		start := time.Now()
		e.link.setUp(true)
		var first time.Time
		var firstSeq int64
		for {
			var applied int64
			if err := w.db.QueryRow(context.Background(), `SELECT applied_seq FROM edge_nodes WHERE id = $1`, nodeID).Scan(&applied); err != nil {
				b.Fatal(err)
			}
			if first.IsZero() && applied > before {
				first, firstSeq = time.Now(), applied
			}
			if applied >= last {
				break
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("watermark at %d of %d after 5 minutes", applied, last)
			}
			time.Sleep(5 * time.Millisecond)
		}
		total := time.Since(start)
		b.StopTimer()
		cpu := w.cpuSample(e)
		for _, name := range []string{"postgres", "cloud", "edge"} {
			b.ReportMetric((cpu[name] - cpuBefore[name]).Seconds(), name+"-cpu-s")
		}
		n := float64(last - before)
		b.ReportMetric(n/total.Seconds(), "events/s")
		b.ReportMetric(float64(last-firstSeq)/time.Since(first).Seconds(), "events/s-after-first-batch")
		b.ReportMetric(total.Seconds(), "s-to-catch-up")
		b.Logf("%d events caught up in %s (%.0f events/s; first batch applied after %s)",
			last-before, total.Round(time.Millisecond), n/total.Seconds(), first.Sub(start).Round(time.Millisecond))
	}
}

// cpuSample reads how much CPU time (user and system) the cloud, the
// edge e and PostgreSQL's processes have used so far: on 2 cores they
// share, where a catch-up's time goes. PostgreSQL's is the sum over its
// backends and background processes that are running now.
func (w *world) cpuSample(e *edgeNode) map[string]time.Duration {
	rows, err := w.db.Query(context.Background(), `SELECT pid FROM pg_stat_activity`)
	if err != nil {
		w.t.Fatalf("postgres processes: %v", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		w.t.Fatalf("postgres processes: %v", err)
	}
	var pg time.Duration
	for _, pid := range pids {
		pg += cpuTime(w.t, int(pid))
	}
	return map[string]time.Duration{"postgres": pg,
		"cloud": cpuTime(w.t, w.cloud.cmd.Process.Pid), "edge": cpuTime(w.t, e.proc.cmd.Process.Pid)}
}

// cpuTime is the CPU time process pid has used, from /proc/PID/stat
// (utime and stime, fields 14 and 15, in clock ticks of 1/100 s on
// Linux); a process that has ended counts nothing.
func cpuTime(tb testing.TB, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	} else if err != nil {
		tb.Fatalf("cpu time of %d: %v", pid, err)
	}
	// The command, field 2, is in parentheses and may hold spaces.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			tb.Fatalf("cpu time of %d: %q: %v", pid, stat, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100
}

// fillOutbox places orders at e until its outbox holds at least n events,
// taking each through to delivered when work is set; it returns the
// outbox's last seq.
func (w *world) fillOutbox(e *edgeNode, n int64, work bool) int64 {
	_, login := doJSON("POST", e.url()+"/api/v1/staff/login", "", map[string]string{"username": e.tablet[0], "password": e.tablet[1]}, nil)
	staff, _ := login["token"].(string)
	if work && staff == "" {
		w.t.Fatalf("staff login: %v", login)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var placed atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			status, s := doJSON("POST", e.url()+"/api/v1/sessions", "", map[string]string{"space_code": e.rooms[g%len(e.rooms)]}, nil)
			if status != http.StatusCreated {
				return
			}
			tok := s["token"].(string)
			for ctx.Err() == nil {
				status, o := doJSON("POST", e.url()+"/api/v1/orders", tok,
					map[string]any{"lines": []map[string]any{{"item_id": w.items[rng.IntN(len(w.items))], "quantity": 1}}},
					map[string]string{"Idempotency-Key": fmt.Sprint(rng.Uint64())})
				if status != http.StatusCreated {
					continue
				}
				placed.Add(1)
				for _, next := range []string{"accepted", "preparing", "ready", "delivered"} {
					if !work {
						break
					}
					doJSON("POST", e.url()+"/api/v1/staff/orders/"+o["id"].(string)+"/status", staff, map[string]string{"status": next}, nil)
				}
			}
		}()
	}
	for {
		var st sqlite.SyncReport
		w.cliJSON(&st, "edge", "status", "--data", e.dir, "--json")
		if st.Outbox.LastSeq >= n {
			cancel()
			wg.Wait()
			w.cliJSON(&st, "edge", "status", "--data", e.dir, "--json")
			return st.Outbox.LastSeq
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// BenchmarkSyncPropagation measures, online, how long an order placed at
// an edge takes to be visible through the cloud's API: 200 orders at
// 20/s, each polled every 5 ms with GET /api/v1/orders/{id}.
func BenchmarkSyncPropagation(b *testing.B) {
	for range b.N {
		b.StopTimer()
		w := newWorld(b)
		w.start(1)
		e := w.edges[0]
		w.waitConverged(time.Minute)
		status, s := doJSON("POST", e.url()+"/api/v1/sessions", "", map[string]string{"space_code": e.rooms[0]}, nil)
		if status != http.StatusCreated {
			b.Fatalf("session: %d", status)
		}
		tok := s["token"].(string)
		b.StartTimer()
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		tick := time.NewTicker(50 * time.Millisecond)
		for i := range 200 {
			<-tick.C
			sent := time.Now()
			status, o := doJSON("POST", e.url()+"/api/v1/orders", tok,
				map[string]any{"lines": []map[string]any{{"item_id": w.items[i%len(w.items)], "quantity": 1}}},
				map[string]string{"Idempotency-Key": fmt.Sprint("p", i)})
			if status != http.StatusCreated {
				b.Fatalf("order %d: %d %v", i, status, o)
			}
			id := o["id"].(string)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(sent) < time.Minute {
					if st, _ := w.tryAPI("GET", "/api/v1/orders/"+id, nil); st == http.StatusOK {
						mu.Lock()
						lat = append(lat, time.Since(sent))
						mu.Unlock()
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
		tick.Stop()
		wg.Wait()
		b.StopTimer()
		if len(lat) != 200 {
			b.Fatalf("%d of 200 orders reached the cloud within a minute", len(lat))
		}
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
		b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	}
}

// envInt reads a positive integer setting of a benchmark.
func envInt(tb testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}
