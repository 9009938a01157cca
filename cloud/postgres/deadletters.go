package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// Dead letters (sync invariant 3): pushed events the cloud could not
// apply, kept whole with the reason, so that the node's watermark moves
// on past them and an admin can apply them again once the cause is fixed
// (an item created, the cloud upgraded to a newer event schema).

// deadLetterColumns are what scanDeadLetter reads, in a statement whose $1
// is the organization: the site's subquery names it as $1 rather than as
// dead_letters.organization_id, because Citus 13.2 prunes the shards of a
// correlated subquery by its own filters only, and with the outer column
// alone plans the statement for every shard (TestCitusRouting).
const deadLetterColumns = `id, node_id,
	(SELECT n.site_id FROM edge_nodes n WHERE n.organization_id = $1 AND n.id = dead_letters.node_id),
	seq, event_type, event_id, entity_id, reason, last_error, schema, payload, created_at, event_created_at, reapplied_at`

func scanDeadLetter(row pgx.Row) (cloud.DeadLetter, error) {
	var d cloud.DeadLetter
	var eventID *string
	err := row.Scan(&d.ID, &d.NodeID, &d.SiteID, &d.Seq, &d.EventType, &eventID, &d.EntityID, &d.Reason, &d.LastError,
		&d.Schema, &d.Raw, &d.CreatedAt, &d.EventCreatedAt, &d.ReappliedAt)
	if eventID != nil {
		d.EventID = *eventID
	}
	d.Payload = payloadJSON(d.Raw)
	return d, err
}

// payloadJSON shows a payload as JSON: itself if it is, else a string.
func payloadJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	s, _ := json.Marshal(string(b)) // a string always marshals
	return s
}

// ListDeadLetters returns a page of an organization's dead letters
// matching f, newest first.
func (s *Store) ListDeadLetters(ctx context.Context, orgID string, f cloud.DeadLetterFilter, p cloud.Page) ([]cloud.DeadLetter, string, error) {
	var q query
	q.where("organization_id = " + q.arg(orgID))
	if err := q.equalID("node_id", "node", f.NodeID); err != nil {
		return nil, "", err
	}
	if f.Open {
		q.where("reapplied_at IS NULL") // the partial index dead_letters_open
	}
	for _, id := range f.SiteIDs {
		if !pantry.ValidID(id) {
			return nil, "", pantry.Errorf(pantry.EINVALID, "site id %q is not a UUID", id)
		}
	}
	switch {
	case f.SiteIDs != nil && len(f.SiteIDs) == 0:
		return []cloud.DeadLetter{}, "", nil
	case f.SiteIDs != nil:
		q.where("node_id IN (SELECT n.id FROM edge_nodes n WHERE n.organization_id = $1 AND n.site_id = ANY(" + q.arg(f.SiteIDs) + "::uuid[]))")
	}
	var out []cloud.DeadLetter
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		out, next, err = newestFirst(ctx, tx, p, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE `+q.clause(), q.args,
			scanDeadLetter, func(d cloud.DeadLetter) (time.Time, string) { return d.CreatedAt, d.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list dead letters: %w", err)
	}
	return out, next, nil
}

// CountDeadLetters counts an organization's dead letters not yet
// re-applied (for the dashboard and metrics).
func (s *Store) CountDeadLetters(ctx context.Context, orgID string) (open int64, err error) {
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE organization_id = $1 AND reapplied_at IS NULL`, orgID).Scan(&open)
	})
	if err != nil {
		return 0, fmt.Errorf("count dead letters: %w", err)
	}
	return open, nil
}

// ReapplyDeadLetter applies a dead letter's event again with apply (the
// sync server's: decoded anew, as a push would apply it), in one
// transaction with the dead letter's new state and its audit entry;
// apply returns why the event still cannot be applied ("" if it was). If it
// applies, the dead letter is closed (reapplied_at). If it still cannot,
// nothing of it is written, the reason is kept as last_error and the
// answer is ECONFLICT. A dead letter already re-applied is ECONFLICT; an
// unknown one ENOTFOUND.
func (s *Store) ReapplyDeadLetter(ctx context.Context, orgID string, who cloud.Actor, id string, apply cloud.ReapplyFunc) (cloud.DeadLetter, error) {
	if err := checkPathID("dead letter", id); err != nil {
		return cloud.DeadLetter{}, err
	}
	var after cloud.DeadLetter
	var failure string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		before, err := getDeadLetter(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if before.ReappliedAt != nil {
			return pantry.Errorf(pantry.ECONFLICT, "dead letter %s was re-applied at %s", id, before.ReappliedAt.UTC().Format(time.RFC3339))
		}
		if failure, err = reapply(ctx, tx, orgID, before, apply); err != nil {
			return err
		}
		// Read back by a SELECT of its own, not RETURNING: Citus refuses a
		// RETURNING with a function that is not IMMUTABLE, and the row-level
		// security of deadLetterColumns' subquery reads current_setting.
		var batch pgx.Batch
		batch.Queue(`UPDATE dead_letters SET reapplied_at = pantry_flag_time(NULL, $3 = '', now()), last_error = $3
			WHERE organization_id = $1 AND id = $2`, orgID, id, cleanText(failure, maxReason))
		batch.Queue(`SELECT `+deadLetterColumns+` FROM dead_letters WHERE organization_id = $1 AND id = $2`, orgID, id).
			QueryRow(func(row pgx.Row) error {
				var err error
				after, err = scanDeadLetter(row)
				return err
			})
		if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
			return fmt.Errorf("update dead letter: %w", err)
		}
		return audit(ctx, tx, orgID, who, "dead_letter.reapply", "dead_letter", id, audited(before), audited(after))
	})
	if err != nil {
		return cloud.DeadLetter{}, fmt.Errorf("reapply dead letter %s: %w", id, err)
	}
	if failure != "" {
		return cloud.DeadLetter{}, pantry.Errorf(pantry.ECONFLICT, "dead letter %s still cannot be applied: %s", id, failure)
	}
	return after, nil
}

// getDeadLetter reads and locks one dead letter. The lock is a statement
// of its own, sent with the read in one round trip: Citus refuses FOR
// UPDATE on a query with a subquery (deadLetterColumns' site).
func getDeadLetter(ctx context.Context, tx pgx.Tx, orgID, id string) (cloud.DeadLetter, error) {
	var d cloud.DeadLetter
	var batch pgx.Batch
	batch.Queue(`SELECT FROM dead_letters WHERE organization_id = $1 AND id = $2 FOR UPDATE`, orgID, id)
	batch.Queue(`SELECT `+deadLetterColumns+` FROM dead_letters WHERE organization_id = $1 AND id = $2`, orgID, id).
		QueryRow(func(row pgx.Row) error {
			var err error
			d, err = scanDeadLetter(row)
			return err
		})
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return cloud.DeadLetter{}, fmt.Errorf("read dead letter: %w", notFound(err, "dead letter", id))
	}
	return d, nil
}

// reapply applies d's event with apply, as its node's, and returns why it
// still cannot be applied ("" if it was). The node's row is locked as a
// push locks it, so the event is not applied beside one of its node's
// pushes; a revoked node's events may still be re-applied.
func reapply(ctx context.Context, tx pgx.Tx, orgID string, d cloud.DeadLetter, apply cloud.ReapplyFunc) (string, error) {
	node := cloud.Node{OrgID: orgID, ID: d.NodeID}
	err := tx.QueryRow(ctx, `SELECT site_id FROM edge_nodes WHERE organization_id = $1 AND id = $2 FOR UPDATE`,
		orgID, d.NodeID).Scan(&node.SiteID)
	if err != nil {
		return "", fmt.Errorf("lock node %s: %w", d.NodeID, err)
	}
	e := syncproto.Event{Seq: d.Seq, ID: d.EventID, Type: d.EventType, Schema: d.Schema, EntityID: d.EntityID, Payload: d.Raw}
	if d.EventCreatedAt != nil {
		e.CreatedAt = *d.EventCreatedAt
	}
	p := &pushTx{tx: tx, node: node}
	reason, err := apply(ctx, p, e)
	if err != nil || reason != "" {
		return reason, err
	}
	// A re-applied event is rare: its notification goes with its
	// transaction, as InsertOrders' do.
	if err := p.notes.send(ctx, tx, orgID); err != nil {
		return "", err
	}
	return "", nil
}

// refusef refuses an event without the database saying so: an order of
// another site, a status change from a status the order is not in.
func refusef(format string, args ...any) error {
	return &cloud.RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// refusal reports whether err refuses the events that caused it (a
// constraint or a value the database rejects, or a refusef), and
// why, readably. Anything else (a lost connection, a cancelled context,
// a serialization failure, a deadlock) is no fault of the events.
func refusal(err error) (reason string, refused bool) {
	if re, ok := errors.AsType[*cloud.RefusedError](err); ok {
		return re.Reason, true
	}
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	if !ok || len(pgErr.Code) != 5 || (pgErr.Code[:2] != "22" && pgErr.Code[:2] != "23") {
		return "", false
	}
	reason = "the database refused it: " + pgErr.Message
	if pgErr.Detail != "" {
		reason += ": " + pgErr.Detail
	}
	return reason, true
}

// missingRefs names what a refused event refers to in the table a
// foreign key found no row in: PostgreSQL leaves the key out of the
// violation's detail for a table under row-level security.
func missingRefs(err error, payload any) string {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	if !ok || pgErr.Code != "23503" {
		return ""
	}
	_, table, _ := strings.Cut(pgErr.Detail, `in table "`)
	table, _, _ = strings.Cut(table, `"`)
	table = shardless(table) // a Citus shard's name

	var ids []string
	switch p := payload.(type) {
	case *syncproto.OrderPlaced:
		switch table {
		case "items":
			for _, l := range p.Lines {
				ids = append(ids, l.ItemID)
			}
		case "spaces":
			ids = []string{p.SpaceID}
		case "attendee_sessions":
			ids = []string{p.SessionID}
		}
	case *syncproto.StockMovement:
		ids = []string{p.ItemID}
	case *syncproto.Session:
		ids = []string{p.SpaceID}
	case *syncproto.CouponRedeemed:
		ids = []string{p.CouponID}
	case *syncproto.StatusChanged:
		ids = []string{p.OrderID}
	}
	if len(ids) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the event names %s; not all are in %s)", strings.Join(ids, ", "), table)
}

// maxReason bounds a dead letter's reason and last error, in characters.
const maxReason = 2000

// insertDeadLetters keeps dead, node's events, as dead letters, with one
// statement. Whatever an edge sent must fit: text is made valid UTF-8
// without NUL bytes, the payload is kept as bytes, ids that are not UUIDs
// are left out.
func insertDeadLetters(ctx context.Context, tx pgx.Tx, node cloud.Node, dead []cloud.PushEvent, now time.Time) error {
	if len(dead) == 0 {
		return nil
	}
	n := len(dead)
	ids, seqs, types, payloads := make([]string, n), make([]int64, n), make([]string, n), make([][]byte, n)
	reasons, eventIDs, entities := make([]string, n), make([]*string, n), make([]string, n)
	schemas, created := make([]int32, n), make([]*time.Time, n)
	for i, e := range dead {
		ids[i], seqs[i], types[i] = pantry.NewID(), e.Seq, cleanText(e.Type, 200)
		payloads[i] = e.Payload
		if payloads[i] == nil {
			payloads[i] = []byte{} // NOT NULL: a missing payload is an empty one
		}
		reasons[i], entities[i] = cleanText(e.Reason, maxReason), cleanText(e.EntityID, 200)
		if pantry.ValidID(e.ID) {
			eventIDs[i] = &e.ID
		}
		schemas[i] = int32(min(max(e.Schema, math.MinInt32), math.MaxInt32))
		if !e.CreatedAt.IsZero() {
			created[i] = &e.CreatedAt
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO dead_letters (organization_id, id, node_id, seq, event_type, payload, reason,
			event_id, entity_id, schema, event_created_at, created_at)
		SELECT g.id, t.id, $2, t.seq, t.type, t.payload, t.reason, t.event_id, t.entity_id, t.schema, t.created, $3
		FROM organizations g, unnest($4::uuid[], $5::bigint[], $6::text[], $7::bytea[], $8::text[], $9::uuid[], $10::text[], $11::int[], $12::timestamptz[])
			AS t(id, seq, type, payload, reason, event_id, entity_id, schema, created)
		WHERE g.id = $1`,
		node.OrgID, node.ID, now, ids, seqs, types, payloads, reasons, eventIDs, entities, schemas, created)
	if err != nil {
		return fmt.Errorf("keep %d dead letters: %w", n, err)
	}
	return nil
}

// cleanText makes s storable as PostgreSQL text (valid UTF-8, no NUL)
// and at most max characters long.
func cleanText(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

// audited is d as the audit log keeps it: without the payload, which
// never changes and which jsonb may refuse (\u0000).
func audited(d cloud.DeadLetter) cloud.DeadLetter {
	d.Payload, d.Raw = nil, nil
	return d
}
