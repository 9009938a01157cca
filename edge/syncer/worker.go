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
	// Status reports the node's own health at the start of each pull
	// (tablets connected; the outbox's oldest waiting event is read here),
	// sent to a cloud that decodes it (syncproto.CapabilityEdgeStatus).
	// Nil reports no tablets.
	Status func() syncproto.EdgeStatus
}

// withDefaults fills in what the caller left out.
func (cfg Config) withDefaults() Config {
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
	return cfg
}

// cloudClient is what the worker asks of the cloud. It is *Client on the
// network; tests put a fake in its place, so that the push and pull loops
// run against scripted answers with no listener and no cloud.
type cloudClient interface {
	PushEncoded(ctx context.Context, gzipped []byte) (syncproto.PushResponse, error)
	Pull(ctx context.Context, req syncproto.PullRequest) (syncproto.PullResponse, error)
	// Node is asked only after a restore (restore.go).
	Node(ctx context.Context) (syncproto.NodeInfo, error)
}

var _ cloudClient = (*Client)(nil)

// Worker pushes the outbox and pulls the site's feed until its context
// ends. Neither ever blocks the store's writers: it reads the outbox and
// writes its results through the store like any other client.
type Worker struct {
	cfg    Config
	client cloudClient
	wake   chan struct{}
	// jitter draws a backoff's jitter in [0, n) and pause waits out a
	// backoff: rand.N and a timer, unless a test makes them predictable.
	jitter func(n time.Duration) time.Duration
	pause  func(ctx context.Context, d time.Duration)

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
	// DeadLettered counts the events the cloud's push answers named as
	// dead letters since the worker started. The cloud names each one
	// once, in the answer to the push that applied it: an answer lost on
	// the way is not counted, a replay never counts one twice.
	DeadLettered int64
}

// New makes a worker.
func New(cfg Config) *Worker {
	cfg = cfg.withDefaults()
	return &Worker{
		cfg:    cfg,
		client: &Client{BaseURL: cfg.Identity.CloudURL, Credential: cfg.Identity.Credential, HTTP: cfg.HTTP},
		wake:   make(chan struct{}, 1),
		jitter: rand.N[time.Duration],
		pause:  sleep,
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

// newBackoff starts a loop's backoff from the configured bounds.
func (w *Worker) newBackoff() backoff {
	return backoff{min: w.cfg.MinBackoff, max: w.cfg.MaxBackoff, jitter: w.jitter}
}

// succeeded records a successful push or pull in the store (for `pantry
// edge status`) and in Status (for metrics).
func (w *Worker) succeeded(ctx context.Context, kind string, at time.Time, sk *time.Duration) {
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

// failed records a failed attempt in the store and in Status; the caller
// then waits out its backoff. A refusal that only a person can lift
// (re-enrolling, upgrading) is flagged, so that metrics say so.
func (w *Worker) failed(ctx context.Context, kind string, err error) {
	at := w.cfg.Now()
	permanent := isPermanent(err)
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
}

// isPermanent reports an answer that retrying cannot change until
// someone acts (see Error.Permanent).
func isPermanent(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.Permanent()
}

// backoff is exponential with full jitter in [d/2, d]: longer after each
// failure, jittered so that a fleet coming back online does not knock on
// the cloud in step.
type backoff struct {
	min, max, cur time.Duration
	// jitter draws uniformly in [0, n): rand.N when nil.
	jitter func(n time.Duration) time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	draw := b.jitter
	if draw == nil {
		draw = rand.N[time.Duration]
	}
	return b.cur/2 + draw(b.cur/2+1)
}

// after is the wait after a failure: the next step, or the longest wait
// when only a person can help (the step still grows, as it always has).
func (b *backoff) after(permanent bool) time.Duration {
	d := b.next()
	if permanent {
		d = b.max
	}
	return d
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
