package syncserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The push (sync invariant 2): a node's outbox events are applied exactly
// once. The node's row holds its watermark. A push locks the row, skips
// the events the watermark covers, applies the rest and moves the
// watermark in one transaction (cloud.PushTx): a retried or overlapping
// batch is acknowledged again without being applied again, and two
// pushes of one node wait for each other.
//
// Throughput comes from applying a batch set-based: payloads are decoded
// here, before the lock, then the store writes each kind of event with
// one statement. An event the store refuses (an item the cloud does not
// know, a duplicate) fails its whole set, which is rolled back and
// halved, each half on its own, until the event at fault is alone: that
// one becomes a dead letter (invariant 3) and its neighbours are applied.
// Events that depend on it then fail alone too, and are dead letters as
// well.

// defaultAheadWait bounds how long a push that starts past the node's
// watermark waits for the pushes before it: an edge keeps two on the
// wire, and the one before is a batch of at most syncproto.MaxBatchEvents
// that PostgreSQL applies in well under a second.
const defaultAheadWait = 2 * time.Second

// aheadRetry is how often a push ahead of the watermark is tried again.
const aheadRetry = 20 * time.Millisecond

// Push applies a node's batch of consecutive outbox events exactly once
// and moves its watermark past them, dead letters included. req has
// passed req.Validate; node comes from the request's credential.
//
// An edge keeps two pushes on the wire while catching up, and the second
// may reach the node's lock before the first: a push that starts ahead of
// the watermark is tried again for a little while, so that the push
// before it can land, and is then a *cloud.GapError that changes nothing.
// A revoked or unknown node is EUNAUTHORIZED; a request naming another
// node is EFORBIDDEN. Any error but a refused event (a lost connection, a
// serialization failure) rolls everything back and is returned, for the
// edge to retry.
func (s *Server) Push(ctx context.Context, node cloud.Node, req syncproto.PushRequest) (syncproto.PushResponse, error) {
	if err := checkPush(node, req); err != nil {
		return syncproto.PushResponse{}, err
	}
	// Payloads are decoded before the node's lock is taken: while this
	// push decodes, the one before it can still be writing.
	decoded := Decode(req.Events)
	deadline := time.Now().Add(s.aheadWait)
	for {
		resp, err := s.applyPush(ctx, node, req, decoded, s.now())
		gap, ok := errors.AsType[*cloud.GapError](err)
		if !ok || gap.Got < gap.ResumeFrom || time.Now().After(deadline) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return resp, err
		case <-time.After(min(aheadRetry, s.aheadWait)):
		}
	}
}

// applyPush is one attempt at a push, in one transaction.
func (s *Server) applyPush(ctx context.Context, node cloud.Node, req syncproto.PushRequest, decoded []cloud.PushEvent, now time.Time) (syncproto.PushResponse, error) {
	now = now.UTC()
	resp := syncproto.PushResponse{Version: syncproto.Version, DeadLettered: []int64{}, ServerTime: now}
	err := s.store.InPush(ctx, node, now, func(tx cloud.PushTx) error {
		applied := tx.Applied()
		todo := unapplied(decoded, applied)
		if len(todo) > 0 && todo[0].Seq != applied+1 {
			return &cloud.GapError{ResumeFrom: applied + 1, Got: todo[0].Seq}
		}
		resp.AppliedSeq = applied
		if len(todo) > 0 {
			dead, err := applyEvents(ctx, tx, todo)
			if err != nil {
				return err
			}
			if err := tx.DeadLetter(ctx, dead); err != nil {
				return err
			}
			for _, d := range dead {
				resp.DeadLettered = append(resp.DeadLettered, d.Seq)
			}
			resp.AppliedSeq = todo[len(todo)-1].Seq
		}
		return tx.Record(ctx, req, resp.AppliedSeq)
	})
	if err != nil {
		return syncproto.PushResponse{}, fmt.Errorf("apply push of node %s: %w", node.ID, err)
	}
	return resp, nil
}

// checkPush re-checks what the watermark's safety rests on, in case a
// caller skipped req.Validate: the node is the credential's, and seqs are
// positive and consecutive.
func checkPush(node cloud.Node, req syncproto.PushRequest) error {
	if !pantry.ValidID(node.ID) || !strings.EqualFold(req.NodeID, node.ID) {
		return pantry.Errorf(pantry.EFORBIDDEN, "this credential is node %s's, not node %q's", node.ID, req.NodeID)
	}
	if len(req.Events) > syncproto.MaxBatchEvents {
		return pantry.Errorf(pantry.ETOOLARGE, "a push carries at most %d events", syncproto.MaxBatchEvents)
	}
	for i, e := range req.Events {
		if e.Seq < 1 || e.Seq != req.Events[0].Seq+int64(i) {
			return pantry.Errorf(pantry.EINVALID, "events[%d].seq is %d: a push carries consecutive positive seqs", i, e.Seq)
		}
	}
	return nil
}

// unapplied returns the events above the watermark.
func unapplied(events []cloud.PushEvent, applied int64) []cloud.PushEvent {
	for i, e := range events {
		if e.Seq > applied {
			return events[i:]
		}
	}
	return nil
}

// applyEvents applies decoded events in seq order, and returns those that
// could not be applied with their reasons, without recording them. Each
// event is either applied or returned; the error is one that must roll
// back the whole transaction.
func applyEvents(ctx context.Context, tx cloud.EventWriter, events []cloud.PushEvent) ([]cloud.PushEvent, error) {
	var ok, dead []cloud.PushEvent
	for _, e := range events {
		e.Reason = cmp.Or(e.Reason, OtherSite(e.Decoded, tx.Site()))
		if e.Reason != "" {
			dead = append(dead, e)
		} else {
			ok = append(ok, e)
		}
	}
	refused, err := applySet(ctx, tx, ok)
	if err != nil {
		return nil, err
	}
	dead = append(dead, refused...)
	slices.SortFunc(dead, func(a, b cloud.PushEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	return dead, nil
}

// applySet writes events as one set. If the store refuses the set, it is
// written again in halves, down to single events; the events refused
// alone are returned with the reason.
func applySet(ctx context.Context, tx cloud.EventWriter, events []cloud.PushEvent) ([]cloud.PushEvent, error) {
	if len(events) == 0 {
		return nil, nil
	}
	err := tx.Write(ctx, events)
	if err == nil {
		return nil, nil
	}
	refused, ok := errors.AsType[*cloud.RefusedError](err)
	switch {
	case !ok:
		return nil, err
	case len(events) == 1:
		e := events[0]
		e.Reason = refused.Reason
		return []cloud.PushEvent{e}, nil
	}
	mid := len(events) / 2
	dead, err := applySet(ctx, tx, events[:mid])
	if err != nil {
		return nil, err
	}
	more, err := applySet(ctx, tx, events[mid:])
	if err != nil {
		return nil, err
	}
	return append(dead, more...), nil
}

// Decode decodes events' payloads on every CPU: decoding is most of what
// a push costs outside the database. An event whose payload does not
// decode carries the reason.
func Decode(events []syncproto.Event) []cloud.PushEvent {
	out := make([]cloud.PushEvent, len(events))
	procs := runtime.GOMAXPROCS(0)
	chunk := max(500, (len(events)+procs-1)/procs)
	var wg sync.WaitGroup
	for lo := 0; lo < len(events); lo += chunk {
		hi := min(lo+chunk, len(events))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				out[i] = decodeEvent(events[i])
			}
		})
	}
	wg.Wait()
	return out
}

// decodeEvent decodes e's payload, or says why it cannot be applied.
func decodeEvent(e syncproto.Event) cloud.PushEvent {
	v, err := syncproto.DecodePayload(e)
	if err != nil {
		return cloud.PushEvent{Event: e, Reason: err.Error()}
	}
	return cloud.PushEvent{Event: e, Decoded: v}
}

// OtherSite says why a decoded payload that names a site other than the
// node's cannot be applied, or returns "": row-level security keeps a
// node inside its organization, this keeps it inside its site.
func OtherSite(decoded any, site string) string {
	var named string
	switch p := decoded.(type) {
	case *syncproto.OrderPlaced:
		named = p.SiteID
	case *syncproto.Session:
		named = p.SiteID
	case *syncproto.StockMovement:
		named = p.SiteID
	}
	if named != "" && !strings.EqualFold(named, site) {
		return fmt.Sprintf("site %s is not this node's site (%s): a node writes only its own site's data", named, site)
	}
	return ""
}
