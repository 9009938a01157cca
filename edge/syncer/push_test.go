package syncer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// These tests run the Worker on a real SQLite store against a cloud the
// test plays push by push: fakeClient replaces only the HTTP calls.

// fakeClient is the cloud at the worker's outer edge.
type fakeClient struct {
	PushEncodedFunc func(ctx context.Context, gzipped []byte) (syncproto.PushResponse, error)
	PullFunc        func(ctx context.Context, req syncproto.PullRequest) (syncproto.PullResponse, error)
	NodeFunc        func(ctx context.Context) (syncproto.NodeInfo, error)
}

var _ cloudClient = (*fakeClient)(nil)

func (f *fakeClient) PushEncoded(ctx context.Context, gzipped []byte) (syncproto.PushResponse, error) {
	return f.PushEncodedFunc(ctx, gzipped)
}

func (f *fakeClient) Pull(ctx context.Context, req syncproto.PullRequest) (syncproto.PullResponse, error) {
	return f.PullFunc(ctx, req)
}

func (f *fakeClient) Node(ctx context.Context) (syncproto.NodeInfo, error) {
	return f.NodeFunc(ctx)
}

// call is one push, waiting for the test's answer.
type call struct {
	body   []byte
	req    syncproto.PushRequest
	answer chan pushResult
}

func (c *call) first() int64 { return c.req.Events[0].Seq }
func (c *call) last() int64  { return c.req.Events[len(c.req.Events)-1].Seq }
func (c *call) String() string {
	return fmt.Sprintf("%d-%d", c.first(), c.last())
}

// reply answers the push: nil acknowledges it up to its last event.
func (c *call) reply(err error) {
	if err != nil {
		c.answer <- fail(err)
		return
	}
	c.answer <- ok(c.last())
}

// rig is a worker on a store in t.TempDir(), with the cloud played by the
// test, backoff waits recorded instead of slept, and jitter at the top of
// its range so that each wait is exactly its step.
type rig struct {
	t      testing.TB
	store  *sqlite.Store
	w      *Worker
	calls  chan *call
	pauses chan time.Duration
	bodies map[string][]byte // the last body sent for each seq range
}

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 400 * time.Millisecond
)

// newRig opens a store enrolled for a site with one item, holding events
// outbox events (restocks of that item), already pushed up to seq acked,
// for a worker sending batchEvents at a time.
func newRig(t testing.TB, events int, acked int64, batchEvents int) *rig {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	id := sqlite.Identity{NodeID: pantry.NewID(), OrgID: pantry.NewID(), SiteID: pantry.NewID(),
		CloudURL: "https://cloud.invalid", Credential: "node-secret"}
	if err := s.Enroll(ctx, id, enrollment(id)); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	r := &rig{t: t, store: s, calls: make(chan *call), pauses: make(chan time.Duration, 100), bodies: map[string][]byte{}}
	r.addEvents(events)
	if acked > 0 {
		if err := s.MarkPushed(ctx, acked, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r.w = New(Config{Store: s, Identity: id, SoftwareVersion: "test",
		BatchEvents: batchEvents, Linger: time.Millisecond, Poll: time.Hour,
		MinBackoff: minBackoff, MaxBackoff: maxBackoff, Log: slog.New(slog.DiscardHandler)})
	r.w.client = &fakeClient{PushEncodedFunc: r.push, PullFunc: func(ctx context.Context, _ syncproto.PullRequest) (syncproto.PullResponse, error) {
		<-ctx.Done() // a long poll that never ends
		return syncproto.PullResponse{}, ctx.Err()
	}}
	r.w.jitter = exact
	r.w.pause = func(ctx context.Context, d time.Duration) {
		select {
		case r.pauses <- d:
		case <-ctx.Done():
		}
	}
	s.OnCommit(r.w.Wake) // as edge.Node wires it
	return r
}

// enrollment is the first pull of a site selling one item.
func enrollment(id sqlite.Identity) syncproto.PullResponse {
	cfg := syncproto.Config{Revision: 1,
		Site:  syncproto.Site{ID: id.SiteID, OrgID: id.OrgID, Name: "Canal House", Timezone: "Europe/Amsterdam", Currency: "EUR"},
		Items: []syncproto.Item{{ID: pantry.NewID(), Name: "Espresso", Price: syncproto.Money{Amount: 250, Currency: "EUR"}, Available: true}},
	}
	return syncproto.PullResponse{Version: syncproto.Version, Cursor: syncproto.Cursor{ConfigRevision: 1}, Config: &cfg}
}

// addEvents commits n more events, one transaction each.
func (r *rig) addEvents(n int) {
	r.t.Helper()
	ctx := context.Background()
	menu, err := r.store.Menu(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	for range n {
		if _, err := r.store.RecordStock(ctx, menu[0].ID, 1, pantry.StockRestock, "test"); err != nil {
			r.t.Fatal(err)
		}
	}
}

// start runs the worker until the test ends.
func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.w.Run(ctx) }()
	r.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("run: %v", err)
		}
	})
}

// push is PushEncoded: it hands the push to the test and waits for its answer.
func (r *rig) push(ctx context.Context, body []byte) (syncproto.PushResponse, error) {
	c := &call{body: body, answer: make(chan pushResult, 1)}
	if err := syncproto.Decode(body, true, &c.req); err != nil {
		return syncproto.PushResponse{}, err
	}
	select {
	case r.calls <- c:
	case <-ctx.Done():
		return syncproto.PushResponse{}, ctx.Err()
	}
	select {
	case a := <-c.answer:
		return a.resp, a.err
	case <-ctx.Done():
		return syncproto.PushResponse{}, ctx.Err()
	}
}

// wait bounds every wait for the worker: reached only when a test fails.
const wait = 10 * time.Second

// window takes the next n pushes, oldest first (two on the wire may reach
// the cloud in either order), and checks that no more are on the wire.
func (r *rig) window(n int) []*call {
	r.t.Helper()
	var cs []*call
	for range n {
		select {
		case c := <-r.calls:
			cs = append(cs, c)
		case <-time.After(wait):
			r.t.Fatalf("%d pushes on the wire (%v), want %d", len(cs), cs, n)
		}
	}
	r.quiet("with %v on the wire", cs)
	slices.SortFunc(cs, func(a, b *call) int { return int(a.first() - b.first()) })
	return cs
}

// quiet fails the test if a push goes out within a short while.
func (r *rig) quiet(format string, args ...any) {
	r.t.Helper()
	select {
	case c := <-r.calls:
		r.t.Fatalf("push %v went out "+format, append([]any{c}, args...)...)
	case <-time.After(50 * time.Millisecond):
	}
}

// pause takes the next backoff wait the worker asked for.
func (r *rig) pause() time.Duration {
	r.t.Helper()
	select {
	case d := <-r.pauses:
		return d
	case <-time.After(wait):
		r.t.Fatal("no backoff")
	}
	return 0
}

// eventually waits (bounded) for cond.
func (r *rig) eventually(what string, cond func() bool) {
	r.t.Helper()
	for deadline := time.Now().Add(wait); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("never: %s", what)
		}
	}
}

func (r *rig) storeAcked() int64 {
	st, err := r.store.SyncState(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return st.AckedSeq
}

// step is one round of a conversation with the cloud.
type step struct {
	want   string        // the pushes on the wire, by seq range, oldest first
	answer error         // to each of them (nil: acknowledged up to its last event)
	resent bool          // the oldest must be, byte for byte, the body sent before for its range
	pause  time.Duration // the backoff the answer leads to (0: none)
}

// play runs steps in order.
func (r *rig) play(steps ...step) {
	r.t.Helper()
	for i, s := range steps {
		cs := r.window(len(strings.Fields(s.want)))
		if got := fmt.Sprint(cs); got != "["+s.want+"]" {
			r.t.Fatalf("step %d: on the wire %s, want [%s]", i, got, s.want)
		}
		if got := len(r.pauses); got > 0 {
			r.t.Fatalf("step %d: %d unexpected backoffs before it", i, got)
		}
		if before, seen := r.bodies[cs[0].String()]; s.resent && !bytes.Equal(before, cs[0].body) {
			r.t.Fatalf("step %d: %v is not the body sent before (seen before: %v)", i, cs[0], seen)
		}
		for _, c := range cs {
			r.bodies[c.String()] = c.body
			c.reply(s.answer)
		}
		if s.pause > 0 {
			if got := r.pause(); got != s.pause {
				r.t.Fatalf("step %d: backoff %s, want %s", i, got, s.pause)
			}
		}
	}
}

// TestWorkerPipelines: while catching up two pushes are on the wire
// before either is answered, no third goes out, and an answer counts only
// after the answers to the pushes sent before it.
func TestWorkerPipelines(t *testing.T) {
	t.Parallel()
	r := newRig(t, 14, 0, 5)
	r.start()
	cs := r.window(2)
	if got, want := fmt.Sprint(cs), "[1-5 6-10]"; got != want {
		t.Fatalf("on the wire %s, want %s", got, want)
	}
	if req := cs[0].req; req.NodeID != r.w.cfg.Identity.NodeID || req.OutboxHead != 14 || !req.SentAt.IsZero() {
		t.Fatalf("push: node %q, outbox_head %d, sent_at %v; want this node, 14, none", req.NodeID, req.OutboxHead, req.SentAt)
	}
	cs[1].reply(nil)
	r.quiet("on the second push's answer, before the first's")
	cs[0].reply(nil)
	last := r.window(1)
	if got, want := last[0].String(), "11-14"; got != want {
		t.Fatalf("then %s, want %s", got, want)
	}
	last[0].reply(nil)
	r.eventually("the store records seq 14 as pushed", func() bool { return r.storeAcked() == 14 })
	st := r.w.Status()
	if st.AckedSeq != 14 || st.LastPush.IsZero() || st.PushFailures != 0 {
		t.Fatalf("status %+v, want acked 14, a last push and no failures", st)
	}
}

// TestWorkerWakes: with the poll an hour away, a commit wakes the pusher.
func TestWorkerWakes(t *testing.T) {
	t.Parallel()
	r := newRig(t, 14, 0, 20)
	r.start()
	r.play(step{want: "1-14"})
	r.eventually("caught up", func() bool { return r.w.Status().AckedSeq == 14 })
	r.addEvents(1)
	r.play(step{want: "15-15"})
}

// TestWorkerProbeThenResend: after a failure one push probes the link,
// and it is the failed batch as first encoded, though the outbox has
// grown since (encoding it again would say a new outbox_head).
func TestWorkerProbeThenResend(t *testing.T) {
	t.Parallel()
	r := newRig(t, 14, 0, 5)
	r.start()
	cs := r.window(2)
	failed := cs[0].body
	r.addEvents(1)
	cs[0].reply(errLink)
	cs[1].reply(errLink)
	if got, want := r.pause(), minBackoff; got != want {
		t.Fatalf("backoff %s, want %s", got, want)
	}
	if st := r.w.Status(); st.PushFailures != 1 || st.RefusedPermanently {
		t.Fatalf("status %+v, want one failure, not refused", st)
	}
	probe := r.window(1)[0]
	if probe.String() != "1-5" || !bytes.Equal(probe.body, failed) {
		t.Fatalf("probe %v (outbox_head %d): not the failed body", probe, probe.req.OutboxHead)
	}
	probe.reply(nil)
	r.play(step{want: "6-10 11-15"})
}

// TestWorkerBackoff: waits double up to the maximum while the link is
// down, each failure counted; a success starts them again.
func TestWorkerBackoff(t *testing.T) {
	t.Parallel()
	r := newRig(t, 14, 0, 5)
	r.start()
	r.play(
		step{want: "1-5 6-10", answer: errLink, pause: minBackoff},
		step{want: "1-5", answer: errLink, resent: true, pause: 2 * minBackoff},
		step{want: "1-5", answer: errLink, resent: true, pause: maxBackoff},
		step{want: "1-5", answer: errLink, resent: true, pause: maxBackoff},
	)
	if got, want := r.w.Status().PushFailures, 4; got != want {
		t.Fatalf("failures %d, want %d", got, want)
	}
	r.play(
		step{want: "1-5", resent: true},
		step{want: "6-10 11-14", answer: errLink, pause: minBackoff},
	)
	if got, want := r.w.Status().PushFailures, 1; got != want {
		t.Fatalf("failures %d, want %d", got, want)
	}
}

// TestWorkerRefused: a revoked credential is flagged for metrics and
// waits the longest, unjittered; the failed batch probes again after it,
// and a success clears the flag.
func TestWorkerRefused(t *testing.T) {
	t.Parallel()
	r := newRig(t, 14, 0, 5)
	r.start()
	r.play(step{want: "1-5 6-10", answer: errRevoked, pause: maxBackoff})
	if st := r.w.Status(); !st.RefusedPermanently || st.PushFailures != 1 {
		t.Fatalf("status %+v, want refused, one failure", st)
	}
	st, err := r.store.SyncState(context.Background())
	if err != nil || !strings.Contains(st.LastError, syncproto.ErrUnauthorized) {
		t.Fatalf("stored last error %q (%v), want it to say %s", st.LastError, err, syncproto.ErrUnauthorized)
	}
	r.play(step{want: "1-5", resent: true})
	r.eventually("refusal cleared", func() bool {
		st := r.w.Status()
		return !st.RefusedPermanently && st.PushFailures == 0
	})
}

// TestWorkerGap: a sync_gap resends from where the cloud asks, behind or
// ahead of the edge, without backing off; the store's record of what
// was pushed never moves back.
func TestWorkerGap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		acked     int64 // the edge's record when it starts
		resume    int64
		want      string // what goes out next
		wantStore int64  // the store's record once the cloud has acknowledged them
	}{
		{"Behind", 10, 4, "4-8 9-13", 13},
		{"Ahead", 0, 21, "21-25 26-30", 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, 30, tc.acked, 5)
			r.start()
			first := fmt.Sprintf("%d-%d %d-%d", tc.acked+1, tc.acked+5, tc.acked+6, tc.acked+10)
			r.play(step{want: first, answer: errGap(tc.resume)})
			if got := r.storeAcked(); got != tc.acked {
				t.Fatalf("store acked %d after the gap, want %d", got, tc.acked)
			}
			r.play(step{want: tc.want})
			r.eventually(fmt.Sprintf("store acked %d", tc.wantStore), func() bool { return r.storeAcked() == tc.wantStore })
			if st := r.w.Status(); st.PushFailures != 0 || st.AckedSeq != tc.wantStore {
				t.Fatalf("status %+v, want no failures, acked %d", st, tc.wantStore)
			}
		})
	}
}

// TestWorkerTooLarge: a 413 halves the batch until the cloud takes it,
// without backing off, and the next batch is full size again; one event
// too large backs off and is resent as encoded, as any failure is.
func TestWorkerTooLarge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		batch int
		steps []step
	}{
		{"HalvesUntilItFits", 8, []step{
			{want: "1-8 9-14", answer: errTooLarge},
			{want: "1-4 5-8", answer: errTooLarge},
			{want: "1-2 3-4"},
			{want: "5-12 13-14"},
		}},
		{"OneEventTooLarge", 2, []step{
			{want: "1-2 3-4", answer: errTooLarge},
			{want: "1-1 2-2", answer: errTooLarge, pause: minBackoff},
			{want: "1-1", answer: errTooLarge, resent: true, pause: 2 * minBackoff},
			{want: "1-1", resent: true},
			{want: "2-3 4-5"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, 14, 0, tc.batch)
			r.start()
			r.play(tc.steps...)
		})
	}
}
