package syncer

import (
	"context"
	"time"

	"github.com/pantry/pantry/syncproto"
)

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

// pushResult is the cloud's answer to one push, with the edge's clock on
// either side of it for the skew estimate.
type pushResult struct {
	resp           syncproto.PushResponse
	err            error
	sent, received time.Time
}

// pushLoop sends the outbox after acked until ctx ends. The pusher
// decides; this loop does the I/O around it: it reads and encodes
// batches, puts them on the wire, takes the answers in the order the
// pushes went out, and records what they say.
func (w *Worker) pushLoop(ctx context.Context, acked int64) {
	acked, ok := w.settleRestore(ctx, acked)
	if !ok {
		return
	}
	p := newPusher(acked, w.cfg.BatchEvents, w.newBackoff())
	var wire []chan pushResult // the answers to p.wire's pushes, in the same order
	// Pushes still on the wire end with ctx: wait for them, so that Run
	// leaves no goroutine behind.
	defer func() {
		for _, c := range wire {
			<-c
		}
	}()
	for ctx.Err() == nil {
		wire = w.fill(ctx, p, wire)
		if len(wire) == 0 {
			// What a push acknowledged behind a failed one is recorded
			// here, before waiting: the outbox's age must not grow while
			// nothing new is committed.
			w.mark(ctx, p)
			w.idle(ctx)
			continue
		}
		// Record the last acknowledgement while the next push is on the wire.
		w.mark(ctx, p)
		r := <-wire[0]
		wire = wire[1:]
		if ctx.Err() != nil {
			return
		}
		w.do(ctx, p, r, p.landed(r))
	}
}

// fill puts pushes on the wire while the pusher has room. An outbox that
// cannot be read leaves the window as it is: the next round tries again.
func (w *Worker) fill(ctx context.Context, p *pusher, wire []chan pushResult) []chan pushResult {
	for {
		s, ok := p.next()
		if !ok {
			return wire
		}
		b := s.resend
		if b == nil {
			var err error
			if b, err = w.prepare(ctx, s.after, s.limit); err != nil {
				w.cfg.Log.Warn("sync: read outbox", "err", err)
			}
			if b == nil {
				return wire
			}
		}
		p.sending(b)
		wire = append(wire, w.send(ctx, b))
	}
}

// send puts a batch on the wire. The push ends when the cloud answers or
// ctx ends; pushLoop waits for every push it started.
func (w *Worker) send(ctx context.Context, b *batch) chan pushResult {
	done := make(chan pushResult, 1)
	go func() {
		sent := w.cfg.Now()
		resp, err := w.client.PushEncoded(ctx, b.body)
		done <- pushResult{resp: resp, err: err, sent: sent, received: w.cfg.Now()}
	}()
	return done
}

// idle waits for new events: a Wake, or the next poll. It then lingers a
// little, so that a burst of orders goes up in one batch.
func (w *Worker) idle(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-w.wake:
	case <-time.After(w.cfg.Poll):
	}
	sleep(ctx, w.cfg.Linger)
}

// mark records in the store what the cloud acknowledged, if the store
// lags: `pantry edge status` and the outbox's metrics read it there.
func (w *Worker) mark(ctx context.Context, p *pusher) {
	upTo, ok := p.toMark()
	if !ok {
		return
	}
	if err := w.cfg.Store.MarkPushed(ctx, upTo, w.cfg.Now()); err != nil {
		w.cfg.Log.Warn("sync: record push", "err", err)
		return
	}
	p.markedUpTo(upTo)
}

// do carries out the pusher's action for answer r.
func (w *Worker) do(ctx context.Context, p *pusher, r pushResult, a action) {
	w.deadLettered(r)
	switch a.kind {
	case actAcked:
		w.pushed(ctx, p, r)
	case actResume:
		w.cfg.Log.Warn("sync: cloud asks to resume elsewhere", "acked", a.acked, "resume_from", a.resume)
	case actBackOff:
		w.failed(ctx, "push", a.err)
		w.pause(ctx, a.wait)
	}
}

// pushed records an acknowledged push; once nothing is left on the wire
// it records the acknowledgement in the store too, as nothing else will.
func (w *Worker) pushed(ctx context.Context, p *pusher, r pushResult) {
	w.succeeded(ctx, "push", r.received, skew(r.sent, r.received, r.resp.ServerTime))
	acked := p.acked
	w.update(func(s *Status) { s.AckedSeq = acked })
	if p.idle() {
		w.mark(ctx, p)
	}
}

// deadLettered logs and counts the events an answer names as dead
// letters. It looks at every answer, not only those the pusher acts on:
// one that lands behind a failed push of its window still applied its
// batch, dead letters included.
func (w *Worker) deadLettered(r pushResult) {
	n := len(r.resp.DeadLettered)
	if r.err != nil || n == 0 {
		return
	}
	w.cfg.Log.Warn("sync: the cloud kept events as dead letters", "seqs", r.resp.DeadLettered)
	w.update(func(s *Status) { s.DeadLettered += int64(n) })
}
