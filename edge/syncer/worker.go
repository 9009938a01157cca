package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/syncproto"
)

// Config configures a Worker. Store, Identity and SoftwareVersion are
// required; the rest have defaults.
type Config struct {
	Store           *sqlite.Store
	Identity        sqlite.Identity
	SoftwareVersion string
	// HTTP is the client for the cloud (default: one with sane timeouts).
	HTTP *http.Client
	// BatchEvents and BatchBytes bound one push (defaults 10,000 events,
	// syncproto.MaxBatchEvents, and 8 MiB of payloads, which compress to
	// about 1 MiB: inside what the cloud accepts).
	BatchEvents int
	BatchBytes  int
	// Linger is how long the pusher waits after being woken, so that a
	// burst of orders goes up in one batch (default 20 ms).
	Linger time.Duration
	// Poll is how often the pusher looks at the outbox when nobody wakes
	// it (default 1 s).
	Poll time.Duration
	// PullWait is how long the cloud may hold a pull (default 25 s).
	PullWait time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed attempts
	// (defaults 500 ms and 30 s); each wait is jittered.
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger
	Now                    func() time.Time
	// OnPull is called after each applied pull page that changed
	// something (a new configuration or stock movements), to announce new
	// stock levels to tablets.
	OnPull func(sqlite.PullChanges)
}

// Worker pushes the outbox and pulls the site's feed until its context
// ends. Neither ever blocks the store's writers: it reads the outbox and
// writes its results through the store like any other client.
type Worker struct {
	cfg    Config
	client *Client
	wake   chan struct{}

	mu   sync.Mutex
	last Status
}

// Status is the worker's view of the link, for metrics. The store's
// SyncState keeps the rest (last error, cursor) for `pantry edge status`.
type Status struct {
	LastPush, LastPull time.Time
	PushFailures       int // consecutive
	PullFailures       int // consecutive
	ClockSkew          *time.Duration
	AckedSeq           int64
	RefusedPermanently bool // the cloud refused the node's credential or version
}

// New makes a worker.
func New(cfg Config) *Worker {
	if cfg.BatchEvents <= 0 || cfg.BatchEvents > syncproto.MaxBatchEvents {
		cfg.BatchEvents = 10000
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = 8 << 20
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 20 * time.Millisecond
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.PullWait <= 0 || cfg.PullWait > syncproto.MaxPullWait {
		cfg.PullWait = 25 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: cfg.PullWait + 30*time.Second}
	}
	return &Worker{
		cfg:    cfg,
		client: &Client{BaseURL: cfg.Identity.CloudURL, Credential: cfg.Identity.Credential, HTTP: cfg.HTTP},
		wake:   make(chan struct{}, 1),
	}
}

// Wake tells the pusher that new events have committed. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Status returns the worker's latest view of the link.
func (w *Worker) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Run pushes and pulls until ctx ends; it returns nil then.
func (w *Worker) Run(ctx context.Context) error {
	st, err := w.cfg.Store.SyncState(ctx)
	if err != nil {
		return fmt.Errorf("sync worker: %w", err)
	}
	w.update(func(s *Status) { s.AckedSeq = st.AckedSeq })
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.pushLoop(ctx, st.AckedSeq) }()
	go func() { defer wg.Done(); w.pullLoop(ctx, st.Cursor) }()
	wg.Wait()
	return nil
}

func (w *Worker) update(f func(*Status)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.last)
}

// batch is a push ready to send: the range of its events and its body,
// encoded and compressed.
type batch struct {
	first, last int64
	body        []byte
}

// prepare reads and encodes the next push: up to limit events after seq
// after (nil when there are none). Pushes carry no sent_at: one may be
// prepared ahead of time or resent after a backoff, which would make the
// cloud's clock-skew figure wrong; pulls carry it.
func (w *Worker) prepare(ctx context.Context, after int64, limit int) (*batch, error) {
	events, err := w.cfg.Store.PendingEvents(ctx, after, limit, w.cfg.BatchBytes)
	if err != nil || len(events) == 0 {
		return nil, err
	}
	last := events[len(events)-1].Seq
	head, err := w.cfg.Store.OutboxHead(ctx)
	if err != nil {
		return nil, err
	}
	req := syncproto.PushRequest{Version: syncproto.Version, NodeID: w.cfg.Identity.NodeID,
		SoftwareVersion: w.cfg.SoftwareVersion, OutboxHead: max(head, last), Events: events}
	body, err := syncproto.Encode(req, true)
	if err != nil {
		return nil, err
	}
	return &batch{first: events[0].Seq, last: last, body: body}, nil
}

type pushResult struct {
	batch          *batch
	resp           syncproto.PushResponse
	err            error
	sent, received time.Time
}

// inflight is a push on the wire.
type inflight struct {
	batch *batch
	done  chan pushResult
}

// pushWindow is how many pushes may be on the wire at once. Two keep the
// cloud busy while catching up: it decodes one batch while PostgreSQL
// applies the one before (the node's row lock makes the second wait its
// turn, and a second that arrives first is told to wait by the cloud).
const pushWindow = 2

// pushLoop sends the outbox after acked, batch by batch, up to pushWindow
// at a time, in seq order; responses are taken in the same order. On any
// failure it waits for what is still on the wire, keeps whatever the
// cloud acknowledged, and starts again from there.
func (w *Worker) pushLoop(ctx context.Context, acked int64) {
	b := backoff{min: w.cfg.MinBackoff, max: w.cfg.MaxBackoff}
	size := w.cfg.BatchEvents
	marked := acked // what the store has recorded as pushed
	var window []inflight
	sent := acked    // the last seq on the wire or acknowledged
	var retry *batch // the failed batch, kept to resend without reading and encoding it again
	for ctx.Err() == nil {
		// After a failure one push probes the link; the window opens
		// again with the first success.
		limit := pushWindow
		if b.cur > 0 {
			limit = 1
		}
		for len(window) < limit {
			next := retry
			retry = nil
			if next == nil || next.first != sent+1 {
				var err error
				if next, err = w.prepare(ctx, sent, size); err != nil {
					w.cfg.Log.Warn("sync: read outbox", "err", err)
					break
				}
			}
			if next == nil {
				break
			}
			window = append(window, w.send(ctx, next))
			sent = next.last
		}
		if len(window) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
			case <-time.After(w.cfg.Poll):
			}
			sleep(ctx, w.cfg.Linger)
			continue
		}
		if acked > marked {
			if err := w.cfg.Store.MarkPushed(ctx, acked, w.cfg.Now()); err != nil {
				w.cfg.Log.Warn("sync: record push", "err", err)
			} else {
				marked = acked
			}
		}
		r := <-window[0].done
		r.batch = window[0].batch
		window = window[1:]
		if ctx.Err() != nil {
			return
		}
		if r.err == nil {
			acked = max(acked, r.resp.AppliedSeq)
			if len(r.resp.DeadLettered) > 0 {
				w.cfg.Log.Warn("sync: the cloud kept events as dead letters", "seqs", r.resp.DeadLettered)
			}
			w.succeeded(ctx, "push", r.received, skew(r.sent, r.received, r.resp.ServerTime), &b)
			w.update(func(s *Status) { s.AckedSeq = acked })
			size = w.cfg.BatchEvents
			if len(window) == 0 && acked > marked {
				if err := w.cfg.Store.MarkPushed(ctx, acked, w.cfg.Now()); err != nil {
					w.cfg.Log.Warn("sync: record push", "err", err)
				} else {
					marked = acked
				}
			}
			continue
		}
		// A failure: let the rest of the window land (a later push may
		// still have been applied) and start again after what the cloud
		// acknowledged.
		for _, f := range window {
			if fr := <-f.done; fr.err == nil {
				acked = max(acked, fr.resp.AppliedSeq)
			}
		}
		window, sent = nil, acked
		if failed := r.batch; failed.first == acked+1 {
			retry = failed
		}
		if resume, ok := isGap(r.err); ok {
			// The cloud's watermark is elsewhere (say it was restored from
			// a backup): the outbox keeps every event, so resend from
			// where it asks.
			w.cfg.Log.Warn("sync: cloud asks to resume elsewhere", "acked", acked, "resume_from", resume)
			acked, sent, marked = resume-1, resume-1, min(marked, resume-1)
			continue
		}
		var ce *Error
		if errors.As(r.err, &ce) && ce.Status == http.StatusRequestEntityTooLarge && size > 1 {
			size, retry = max(1, size/2), nil
			continue
		}
		w.failed(ctx, "push", r.err, &b)
	}
	for _, f := range window {
		<-f.done
	}
}

// send puts a batch on the wire.
func (w *Worker) send(ctx context.Context, bt *batch) inflight {
	f := inflight{batch: bt, done: make(chan pushResult, 1)}
	go func() {
		sent := w.cfg.Now()
		resp, err := w.client.PushEncoded(ctx, bt.body)
		f.done <- pushResult{resp: resp, err: err, sent: sent, received: w.cfg.Now()}
	}()
	return f
}

// pullLoop long-polls the site's feed and applies each page.
func (w *Worker) pullLoop(ctx context.Context, cursor syncproto.Cursor) {
	b := backoff{min: w.cfg.MinBackoff, max: w.cfg.MaxBackoff}
	wait := int(w.cfg.PullWait / time.Second)
	for ctx.Err() == nil {
		head, _ := w.cfg.Store.OutboxHead(ctx) // 0 on error: the cloud keeps the highest it has seen
		sent := w.cfg.Now()
		page, err := w.client.Pull(ctx, syncproto.PullRequest{
			Version: syncproto.Version, NodeID: w.cfg.Identity.NodeID, SoftwareVersion: w.cfg.SoftwareVersion,
			Cursor: cursor, WaitSeconds: wait, SentAt: sent.UTC(), OutboxHead: head,
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.failed(ctx, "pull", err, &b)
			continue
		}
		now := w.cfg.Now()
		var changes sqlite.PullChanges
		if page.Config != nil || len(page.Stock) > 0 || page.Cursor != cursor {
			if changes, err = w.cfg.Store.ApplyPullChanges(ctx, page); err != nil {
				w.failed(ctx, "pull", fmt.Errorf("apply pull: %w", err), &b)
				continue
			}
			// The store never moves its cursor backwards: carry on from
			// what it holds, not from what the page said.
			st, err := w.cfg.Store.SyncState(ctx)
			if err != nil {
				w.failed(ctx, "pull", err, &b)
				continue
			}
			cursor = st.Cursor
		}
		w.succeeded(ctx, "pull", now, skew(sent, now, page.ServerTime), &b)
		if (changes.Config || len(changes.Stock) > 0) && w.cfg.OnPull != nil {
			w.cfg.OnPull(changes)
		}
	}
}

func (w *Worker) succeeded(ctx context.Context, kind string, at time.Time, sk *time.Duration, b *backoff) {
	b.reset()
	if err := w.cfg.Store.RecordSync(ctx, kind, at, sk, nil); err != nil && ctx.Err() == nil {
		w.cfg.Log.Warn("sync: record state", "err", err)
	}
	w.update(func(s *Status) {
		s.RefusedPermanently = false
		if sk != nil {
			s.ClockSkew = sk
		}
		if kind == "push" {
			s.LastPush, s.PushFailures = at, 0
		} else {
			s.LastPull, s.PullFailures = at, 0
		}
	})
}

// failed records a failed attempt and waits before the next one: longer
// each time, jittered so that a fleet coming back online does not knock
// on the cloud in step, and at the longest when only a person can help.
func (w *Worker) failed(ctx context.Context, kind string, err error, b *backoff) {
	at := w.cfg.Now()
	var ce *Error
	permanent := errors.As(err, &ce) && ce.Permanent()
	w.cfg.Log.Warn("sync: "+kind+" failed", "err", err, "permanent", permanent)
	if rerr := w.cfg.Store.RecordSync(ctx, kind, at, nil, err); rerr != nil && ctx.Err() == nil {
		w.cfg.Log.Warn("sync: record state", "err", rerr)
	}
	w.update(func(s *Status) {
		s.RefusedPermanently = permanent
		if kind == "push" {
			s.PushFailures++
		} else {
			s.PullFailures++
		}
	})
	d := b.next()
	if permanent {
		d = b.max
	}
	sleep(ctx, d)
}

// backoff is exponential with full jitter in [d/2, d].
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
