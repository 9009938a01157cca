package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pantry/pantry/edge/syncer"
	"github.com/pantry/pantry/syncproto"
)

// node is one simulated edge node: a real syncer.Client with its own
// credential and its own connections, a long-polling pull loop that
// applies nothing but keeps its cursor (and tells the run when the
// admin's price reaches it), and a push loop that sends what its
// generator makes, with consecutive seqs of its own.
type node struct {
	r      *run
	org    int // index in the fleet's organizations
	pos    int // index among its organization's nodes
	id     string
	client *syncer.Client

	mu     sync.Mutex // guards gen: the pull loop sets its configuration, the push loop makes events
	gen    *generator
	cursor syncproto.Cursor // the pull loop's alone once started

	pending []simEvent // made and not yet acknowledged, oldest first; the push loop's alone
	seen    int        // how many of its organization's changes it has seen; the pull loop's alone
}

// newNode makes node n of organization org, talking to cloud over
// connections of its own, as a building's box would.
func newNode(r *run, org, pos int, n Node, cloud string, seed uint64) *node {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   2, // a pull and a push, as the edge's default transport keeps
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: r.cfg.PullWait + 30*time.Second,
	}
	return &node{
		r: r, org: org, pos: pos, id: n.ID,
		client: &syncer.Client{BaseURL: cloud, Credential: n.Credential,
			HTTP: &http.Client{Timeout: r.cfg.PullWait + 30*time.Second, Transport: tr}},
		gen: newGenerator(rand.New(rand.NewPCG(seed, 0xf1ee7)), time.Now, 0),
	}
}

// close lets go of the node's idle connections.
func (n *node) close() { n.client.HTTP.CloseIdleConnections() }

// start asks the cloud for the node's watermark (a node of a fleet set up
// before carries on after what it pushed then) and pulls its
// configuration, without waiting.
func (n *node) start(ctx context.Context) error {
	info, err := n.client.Node(ctx)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.id, err)
	}
	n.gen.seq = info.AppliedSeq
	for {
		page, err := n.client.Pull(ctx, n.pullRequest(0))
		if err != nil {
			return fmt.Errorf("node %s: first pull: %w", n.id, err)
		}
		n.took(page, time.Now())
		if !page.More {
			break
		}
	}
	if n.gen.cfg.siteID == "" {
		return fmt.Errorf("node %s: the cloud sent no configuration", n.id)
	}
	return nil
}

// pullRequest is the pull an edge's worker sends: with its status once
// the cloud has said it reads one.
func (n *node) pullRequest(wait int) syncproto.PullRequest {
	req := syncproto.PullRequest{Version: syncproto.Version, NodeID: n.id, SoftwareVersion: n.r.cfg.SoftwareVersion,
		Cursor: n.cursor, WaitSeconds: wait, SentAt: time.Now().UTC(), OutboxHead: n.head()}
	if n.client.CloudCapability() >= syncproto.CapabilityEdgeStatus {
		req.Status = &syncproto.EdgeStatus{TabletsOnline: 2}
	}
	return req
}

// head is the newest seq the node has made.
func (n *node) head() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gen.seq
}

// took applies a pull page: a new configuration goes to the generator,
// and its price of the watched item tells the run which admin changes
// reached the node, and when.
func (n *node) took(page syncproto.PullResponse, at time.Time) {
	n.cursor = page.Cursor
	if page.Config == nil {
		return
	}
	n.mu.Lock()
	n.gen.setConfig(page.Config)
	n.mu.Unlock()
	item := n.r.cfg.Fleet.Orgs[n.org].PriceItem
	for _, it := range page.Config.Items {
		if it.ID == item {
			n.seen = n.r.changes[n.org].saw(n.pos, n.seen, it.Price.Amount, at)
		}
	}
}

// pullLoop long-polls the site's feed until ctx ends, as the edge's
// worker does, counting the polls held open.
func (n *node) pullLoop(ctx context.Context) {
	wait := int(n.r.cfg.PullWait / time.Second)
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		n.r.held.Add(1)
		page, err := n.client.Pull(ctx, n.pullRequest(wait))
		n.r.held.Add(-1)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			n.r.m.fail("pull", err)
			sleep(ctx, backoff/2+rand.N(backoff/2))
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 500 * time.Millisecond
		n.r.pulls.Add(1)
		n.took(page, time.Now())
	}
}

// pushLoop pushes until ctx ends, at the node's share of the fleet's
// rate: the gaps between pushes are exponential (the fleet's pushes are a
// Poisson stream), and a push that takes longer than the gap delays the
// next, as an edge keeps its pushes in order.
func (n *node) pushLoop(ctx context.Context, rng *rand.Rand) {
	mean := float64(time.Second) * float64(len(n.r.nodes)) / n.r.cfg.PushRate
	next := time.Now().Add(time.Duration(rng.Float64() * mean))
	for {
		if !sleep(ctx, time.Until(next)) {
			return
		}
		next = next.Add(time.Duration(rng.ExpFloat64() * mean))
		if late := time.Since(next); late > time.Duration(mean) {
			next = time.Now() // far behind: do not burst to catch up
		}
		catchUp := n.r.cfg.CatchUp > 0 && rng.Float64() < n.r.cfg.CatchUp
		n.mu.Lock()
		if catchUp {
			size := n.r.cfg.CatchUpEvents
			n.pending = append(n.pending, n.gen.backlog(size/2+rng.IntN(size+1))...)
		} else {
			n.pending = append(n.pending, n.gen.tick()...)
		}
		n.mu.Unlock()
		n.push(context.WithoutCancel(ctx), catchUp, true)
	}
}

// flush pushes what is still waiting once the phase is over, until it is
// all acknowledged or ctx ends.
func (n *node) flush(ctx context.Context) {
	for len(n.pending) > 0 && ctx.Err() == nil {
		if !n.push(ctx, false, false) {
			sleep(ctx, time.Second)
		}
	}
}

// push sends the waiting events (at most a batch's worth), times the
// push when timed is set, and drops what the cloud acknowledged. It
// reports whether the cloud answered with an acknowledgement.
func (n *node) push(ctx context.Context, catchUp, timed bool) bool {
	batch := n.pending[:min(len(n.pending), syncproto.MaxBatchEvents)]
	if len(batch) == 0 {
		return true
	}
	req := syncproto.PushRequest{Version: syncproto.Version, NodeID: n.id, SoftwareVersion: n.r.cfg.SoftwareVersion,
		OutboxHead: n.head(), Events: make([]syncproto.Event, len(batch))}
	for i, e := range batch {
		req.Events[i] = e.Event
	}
	body, err := syncproto.Encode(req, true)
	if err != nil {
		n.r.m.fail("push", err)
		return false
	}
	start := time.Now()
	resp, err := n.client.PushEncoded(ctx, body)
	took := time.Since(start)
	if err != nil {
		return n.refused(err)
	}
	n.r.m.pushed(took, len(batch), catchUp, timed, len(resp.DeadLettered))
	n.acknowledged(resp.AppliedSeq)
	return true
}

// refused handles a push the cloud did not acknowledge. A gap past what
// the node holds means the cloud has it already: the node drops it.
func (n *node) refused(err error) bool {
	n.r.m.fail("push", err)
	var e *syncer.Error
	if errors.As(err, &e) && e.Code == syncproto.ErrGap && e.ResumeFrom > 0 && len(n.pending) > 0 && e.ResumeFrom > n.pending[0].Seq {
		n.acknowledged(e.ResumeFrom - 1)
		return true
	}
	return false
}

// acknowledged drops the events up to seq and counts what they write in
// the cloud.
func (n *node) acknowledged(seq int64) {
	i := 0
	for i < len(n.pending) && n.pending[i].Seq <= seq {
		n.r.m.acked(n.pending[i])
		i++
	}
	n.pending = n.pending[i:]
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
