package postgres

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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The push (sync invariant 2): a node's outbox events are applied exactly
// once. The node's row holds its watermark, applied_seq. A push locks the
// row, skips the events the watermark covers, applies the rest and moves
// the watermark in one transaction: a retried or overlapping batch is
// acknowledged again without being applied again, and two pushes of one
// node wait for each other.
//
// Throughput comes from applying a batch set-based: payloads are decoded
// in Go, then each kind of event is written with one statement over
// unnest arrays, every statement in one round trip. An event the database
// refuses (an item the cloud does not know, a duplicate) fails its whole
// set, which is rolled back to a savepoint and halved, each half in its
// own savepoint, until the event at fault is alone: that one becomes a
// dead letter (invariant 3) and its neighbours are applied. Events that
// depend on it then fail alone too, and are dead letters as well.

// ApplyPush applies a node's batch of consecutive outbox events exactly
// once and moves its watermark past them, dead letters included. req has
// passed req.Validate; node comes from the request's credential. A batch
// that starts after the watermark's next seq is a *GapError and changes
// nothing; a revoked or unknown node is EUNAUTHORIZED; a request naming
// another node is EFORBIDDEN. Any error but a refused event (a lost
// connection, a serialization failure) rolls everything back and is
// returned, for the edge to retry.
func (s *Store) ApplyPush(ctx context.Context, node Node, req syncproto.PushRequest, now time.Time) (syncproto.PushResponse, error) {
	if err := checkPush(node, req); err != nil {
		return syncproto.PushResponse{}, err
	}
	now = now.UTC()
	resp := syncproto.PushResponse{Version: syncproto.Version, DeadLettered: []int64{}, ServerTime: now}
	// Payloads are decoded before the node's lock is taken: while this
	// push decodes, the one before it can still be writing.
	decoded := decodeEvents(req.Events)
	err := s.InTenant(ctx, node.OrgID, func(tx pgx.Tx) error {
		applied, err := lockPushingNode(ctx, tx, &node)
		if err != nil {
			return err
		}
		todo := unapplied(decoded, applied)
		if len(todo) > 0 && todo[0].Seq != applied+1 {
			return &GapError{ResumeFrom: applied + 1, Got: todo[0].Seq}
		}
		resp.AppliedSeq = applied
		if len(todo) > 0 {
			dead, err := applyEvents(ctx, tx, node, todo)
			if err != nil {
				return err
			}
			if err := insertDeadLetters(ctx, tx, node, dead, now); err != nil {
				return err
			}
			for _, d := range dead {
				resp.DeadLettered = append(resp.DeadLettered, d.Seq)
			}
			resp.AppliedSeq = todo[len(todo)-1].Seq
		}
		return recordPush(ctx, tx, node, req, resp.AppliedSeq, now)
	})
	if err != nil {
		return syncproto.PushResponse{}, fmt.Errorf("apply push of node %s: %w", node.ID, err)
	}
	return resp, nil
}

// checkPush re-checks what the watermark's safety rests on, in case a
// caller skipped req.Validate: the node is the credential's, and seqs are
// positive and consecutive.
func checkPush(node Node, req syncproto.PushRequest) error {
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

// lockPushingNode locks the node's row for the rest of the transaction
// and returns its watermark. Revocation is read under the lock, so a push
// racing a revoke either commits before it or is refused. node.SiteID is
// set to the row's: the site every event must belong to.
func lockPushingNode(ctx context.Context, tx pgx.Tx, node *Node) (applied int64, err error) {
	var revoked *time.Time
	var site string
	err = tx.QueryRow(ctx, `SELECT applied_seq, revoked_at, site_id FROM edge_nodes
		WHERE organization_id = $1 AND id = $2 FOR UPDATE`, node.OrgID, node.ID).Scan(&applied, &revoked, &site)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, pantry.Errorf(pantry.EUNAUTHORIZED, "node %s is not enrolled", node.ID)
	case err != nil:
		return 0, fmt.Errorf("lock node: %w", err)
	case revoked != nil:
		return 0, pantry.Errorf(pantry.EUNAUTHORIZED, "node %s was revoked", node.ID)
	case node.SiteID != "" && !strings.EqualFold(node.SiteID, site):
		return 0, pantry.Errorf(pantry.EFORBIDDEN, "node %s serves site %s, not %s", node.ID, site, node.SiteID)
	}
	node.SiteID = site
	return applied, nil
}

// unapplied returns the events above the watermark.
func unapplied(events []pushEvent, applied int64) []pushEvent {
	for i, e := range events {
		if e.Seq > applied {
			return events[i:]
		}
	}
	return nil
}

// recordPush moves the watermark and records the contact: when, the
// edge's build, how far its outbox reaches, and its clock's skew.
func recordPush(ctx context.Context, tx pgx.Tx, node Node, req syncproto.PushRequest, applied int64, now time.Time) error {
	head := req.OutboxHead
	if n := len(req.Events); n > 0 {
		head = max(head, req.Events[n-1].Seq)
	}
	var skew *int64
	if !req.SentAt.IsZero() {
		ms := req.SentAt.Sub(now).Milliseconds()
		skew = &ms
	}
	_, err := tx.Exec(ctx, `UPDATE edge_nodes SET applied_seq = $3, last_push_at = $4, last_seen_at = $4,
			software_version = COALESCE(NULLIF($5, ''), software_version),
			edge_last_seq = greatest(edge_last_seq, $6), clock_skew_ms = COALESCE($7, clock_skew_ms)
		WHERE organization_id = $1 AND id = $2`,
		node.OrgID, node.ID, applied, now, cleanText(req.SoftwareVersion, 200), max(head, applied), skew)
	if err != nil {
		return fmt.Errorf("record push: %w", err)
	}
	return nil
}

// pushEvent is an event on its way in: its decoded payload, or the reason
// it is a dead letter.
type pushEvent struct {
	syncproto.Event
	payload any
	reason  string
}

// applyEvents applies decoded events of node, in seq order, and returns
// those that could not be applied with their reasons, without recording
// them. Each event is either applied or returned; the error is one that
// must roll back the whole transaction.
func applyEvents(ctx context.Context, tx pgx.Tx, node Node, events []pushEvent) ([]pushEvent, error) {
	var ok, dead []pushEvent
	for _, pe := range events {
		pe.reason = cmp.Or(pe.reason, otherSite(pe.payload, node.SiteID))
		if pe.reason != "" {
			dead = append(dead, pe)
		} else {
			ok = append(ok, pe)
		}
	}
	refused, err := applySet(ctx, tx, node, ok)
	if err != nil {
		return nil, err
	}
	dead = append(dead, refused...)
	slices.SortFunc(dead, func(a, b pushEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	return dead, nil
}

// decodeEvents decodes events' payloads on every CPU: decoding is most of
// what a push costs outside the database.
func decodeEvents(events []syncproto.Event) []pushEvent {
	out := make([]pushEvent, len(events))
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
func decodeEvent(e syncproto.Event) pushEvent {
	v, err := syncproto.DecodePayload(e)
	if err != nil {
		return pushEvent{Event: e, reason: err.Error()}
	}
	return pushEvent{Event: e, payload: v}
}

// otherSite says why a payload that names a site other than the node's
// cannot be applied, or returns "": RLS keeps a node inside its
// organization, this keeps it inside its site.
func otherSite(payload any, site string) string {
	var named string
	switch p := payload.(type) {
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

// applySet applies events set-based in a savepoint. If the database
// refuses the set, it is rolled back and applied again in halves, down to
// single events; the events refused alone are returned with the reason.
func applySet(ctx context.Context, tx pgx.Tx, node Node, events []pushEvent) ([]pushEvent, error) {
	if len(events) == 0 {
		return nil, nil
	}
	err := inSavepoint(ctx, tx, func(sp pgx.Tx) error { return writeEvents(ctx, sp, node, events) })
	if err == nil {
		return nil, nil
	}
	reason, refused := refusal(err)
	switch {
	case !refused:
		return nil, err
	case len(events) == 1:
		e := events[0]
		e.reason = reason + missingRefs(err, e.payload)
		return []pushEvent{e}, nil
	}
	mid := len(events) / 2
	dead, err := applySet(ctx, tx, node, events[:mid])
	if err != nil {
		return nil, err
	}
	more, err := applySet(ctx, tx, node, events[mid:])
	if err != nil {
		return nil, err
	}
	return append(dead, more...), nil
}

// inSavepoint runs fn in a savepoint of tx, rolled back if fn fails.
func inSavepoint(ctx context.Context, tx pgx.Tx, fn func(pgx.Tx) error) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(sp); err != nil {
		if rbErr := sp.Rollback(ctx); rbErr != nil {
			// Not %w for err: a failed rollback is no refusal of the events.
			return fmt.Errorf("roll back to savepoint: %w (after: %v)", rbErr, err)
		}
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// writeEvents writes decoded events with one statement per kind of row.
func writeEvents(ctx context.Context, tx pgx.Tx, node Node, events []pushEvent) error {
	set, err := newEventSet(events)
	if err != nil {
		return err
	}
	var b pgx.Batch
	set.queue(&b, node)
	return runUnnamed(ctx, tx, &b)
}

// runUnnamed runs b's statements one after the other, each as an unnamed
// statement, calling their callbacks as SendBatch would: PostgreSQL plans
// each execution for the arrays it is given.
//
// A batch's statements are named prepared statements, and after five
// runs PostgreSQL may switch one to a generic plan, which takes each
// unnest($n) for 10 rows whatever the array holds: it was seen joining a
// push's 900 status changes to every order of the site, one by one
// (seconds, growing with the site). SET LOCAL plan_cache_mode =
// force_custom_plan, the first cure, also replanned every foreign key
// check, one per row: a third of a push's time (38,355 plans for 38,355
// item checks, pg_stat_statements). Unnamed statements cost a round trip
// each, about ten per push of up to 10,000 events.
//
// Custom plans everywhere would not do: the dashboard's month report ran
// 8 times slower with them than with its generic plan.
func runUnnamed(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	for _, qq := range b.QueuedQueries {
		r := &unnamedResult{ctx: ctx, tx: tx, qq: qq}
		var err error
		if qq.Fn != nil {
			err = qq.Fn(r)
		} else {
			_, err = r.Exec()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unnamedResult runs one queued statement, unnamed, when its callback
// reads the result. It is the pgx.BatchResults a queued statement's
// callback is given, whose methods take no context: it carries runUnnamed's.
type unnamedResult struct {
	ctx context.Context
	tx  pgx.Tx
	qq  *pgx.QueuedQuery
}

func (r *unnamedResult) args() []any {
	return append([]any{pgx.QueryExecModeCacheDescribe}, r.qq.Arguments...)
}

func (r *unnamedResult) Exec() (pgconn.CommandTag, error) {
	return r.tx.Exec(r.ctx, r.qq.SQL, r.args()...)
}

func (r *unnamedResult) Query() (pgx.Rows, error) { return r.tx.Query(r.ctx, r.qq.SQL, r.args()...) }
func (r *unnamedResult) QueryRow() pgx.Row        { return r.tx.QueryRow(r.ctx, r.qq.SQL, r.args()...) }
func (r *unnamedResult) Close() error             { return nil }
func (r *unnamedResult) Tx() pgx.Tx               { return nil }
