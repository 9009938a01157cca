package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The push's transaction (cloud.PushTx; the policy is cloud/syncserver's):
// the node's row holds its watermark, applied_seq, and is locked from the
// moment the watermark is read until the new one commits. Events are
// written set-based: payloads come decoded, then each kind of event is
// written with one statement over unnest arrays (sync_push_set.go), in a
// savepoint, so that a set the database refuses is rolled back alone.

// InPush runs fn in one transaction of node's organization that holds
// node's lock: fn reads the watermark, writes events and dead letters and
// moves the watermark through the cloud.PushTx it is given, and all of it
// commits or none. now is the cloud's clock, recorded as the contact.
// A revoked or unknown node is EUNAUTHORIZED; a node.SiteID that is not
// the node's is EFORBIDDEN.
//
// The order feed's notifications of the orders the push stored or moved
// are sent after it commits, in a transaction of their own
// (notifyAfterCommit), not inside the push's.
func (s *Store) InPush(ctx context.Context, node cloud.Node, now time.Time, fn func(cloud.PushTx) error) error {
	var notes orderNoteList
	err := s.InTenant(ctx, node.OrgID, func(tx pgx.Tx) error {
		applied, err := lockPushingNode(ctx, tx, &node)
		if err != nil {
			return err
		}
		p := &pushTx{tx: tx, node: node, applied: applied, now: now}
		if err := fn(p); err != nil {
			return err
		}
		notes = p.notes
		return nil
	})
	if err != nil {
		return err
	}
	s.notifyAfterCommit(ctx, node.OrgID, notes)
	return nil
}

// pushTx is cloud.PushTx over a transaction holding the node's lock.
type pushTx struct {
	tx      pgx.Tx
	node    cloud.Node
	applied int64
	now     time.Time
	notes   orderNoteList // the orders its writes stored or moved, for the order feed
}

func (p *pushTx) Site() string   { return p.node.SiteID }
func (p *pushTx) Applied() int64 { return p.applied }

func (p *pushTx) Write(ctx context.Context, events []cloud.PushEvent) error {
	notes, err := writeSet(ctx, p.tx, p.node, events)
	if err != nil {
		return err
	}
	p.notes.add(notes)
	return nil
}

func (p *pushTx) DeadLetter(ctx context.Context, events []cloud.PushEvent) error {
	return insertDeadLetters(ctx, p.tx, p.node, events, p.now)
}

func (p *pushTx) Record(ctx context.Context, req syncproto.PushRequest, applied int64) error {
	return recordPush(ctx, p.tx, p.node, req, applied, p.now)
}

// lockPushingNode locks the node's row for the rest of the transaction
// and returns its watermark. Revocation is read under the lock, so a push
// racing a revoke either commits before it or is refused. node.SiteID is
// set to the row's: the site every event must belong to.
func lockPushingNode(ctx context.Context, tx pgx.Tx, node *cloud.Node) (applied int64, err error) {
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

// recordPush moves the watermark and records the contact: when, the
// edge's build, how far its outbox reaches, and its clock's skew.
func recordPush(ctx context.Context, tx pgx.Tx, node cloud.Node, req syncproto.PushRequest, applied int64, now time.Time) error {
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
			edge_last_seq = greatest(edge_last_seq, $6), clock_skew_ms = COALESCE($7, clock_skew_ms),
			outbox_oldest_at = CASE WHEN $3 >= greatest(edge_last_seq, $6) THEN NULL ELSE outbox_oldest_at END
		WHERE organization_id = $1 AND id = $2`,
		node.OrgID, node.ID, applied, now, cleanText(req.SoftwareVersion, 200), max(head, applied), skew)
	if err != nil {
		return fmt.Errorf("record push: %w", err)
	}
	return nil
}

// writeSet writes events in a savepoint of tx, rolled back if the
// database refuses them; the refusal is a *cloud.RefusedError, which
// names what a single refused event refers to and is missing.
func writeSet(ctx context.Context, tx pgx.Tx, node cloud.Node, events []cloud.PushEvent) (orderNoteList, error) {
	var notes orderNoteList
	err := inSavepoint(ctx, tx, func(sp pgx.Tx) (err error) {
		notes, err = writeEvents(ctx, sp, node, events)
		return err
	})
	if err == nil {
		return notes, nil
	}
	reason, refused := refusal(err)
	if !refused {
		return orderNoteList{}, err
	}
	if len(events) == 1 {
		reason += missingRefs(err, events[0].Decoded)
	}
	return orderNoteList{}, &cloud.RefusedError{Reason: reason}
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

// writeEvents writes decoded events with one statement per kind of row,
// and returns the orders they stored or moved, for the order feed.
func writeEvents(ctx context.Context, tx pgx.Tx, node cloud.Node, events []cloud.PushEvent) (orderNoteList, error) {
	set, err := newEventSet(events)
	if err != nil {
		return orderNoteList{}, err
	}
	var b pgx.Batch
	set.queue(&b, node)
	if len(events) <= pipelinedSet {
		err = tx.SendBatch(ctx, &b).Close()
	} else {
		err = runUnnamed(ctx, tx, &b)
	}
	if err != nil {
		return orderNoteList{}, err
	}
	ids, created := orderNotes(set.orders.id, set.finals.keys)
	return orderNoteList{ids: ids, created: created}, nil
}

// pipelinedSet is the most events a set may hold to be written as one
// pipelined batch of the connection's prepared statements (one round
// trip, planned once) rather than by runUnnamed (a round trip and a plan
// per statement). An online edge pushes a few events at a time, and for
// arrays that short the generic plan PostgreSQL may settle on after five
// runs, which takes every array for 10 rows, is the right one; the
// batches of a building catching up (up to 10,000 events) go unnamed, so
// no plan made for a few rows is ever used for thousands. With 1,000
// nodes pushing 200 times a second (`pantry cloud loadtest`), each push
// was about twenty round trips, and PostgreSQL spent most of a core
// parsing and planning them.
const pipelinedSet = 64

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
