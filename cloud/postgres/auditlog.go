package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// maxAuditFilterLen bounds the text filters: longer values match nothing
// anyway, and are refused rather than sent to the database.
const maxAuditFilterLen = 200

// ListAudit lists an organization's audit log matching f, newest first by
// (at, id), one page at a time; next is the cursor of the following page,
// empty on the last one. Before and After carry the stored JSON as it is
// (json.RawMessage), or nil.
func (s *Store) ListAudit(ctx context.Context, orgID string, f cloud.AuditFilter, p cloud.Page) (entries []cloud.AuditEntry, next string, err error) {
	sql, args, limit, err := auditListQuery(orgID, f, p)
	if err != nil {
		return nil, "", err
	}
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, sql, args...)
		entries, err = pgx.CollectRows(rows, scanAuditEntry)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list audit log: %w", err)
	}
	if len(entries) > limit {
		last := entries[limit-1]
		entries, next = entries[:limit], encodeCursor(last.At, last.ID)
	}
	return entries, next, nil
}

func auditListQuery(orgID string, f cloud.AuditFilter, p cloud.Page) (sql string, args []any, limit int, err error) {
	limit, err = p.Size()
	if err != nil {
		return "", nil, 0, err
	}
	c, after, err := decodeCursor(p.Cursor)
	if err != nil {
		return "", nil, 0, err
	}
	var q query
	q.where("organization_id = " + q.arg(orgID))
	for _, eq := range []struct{ col, value string }{
		{"resource", f.Resource}, {"resource_id", f.ResourceID}, {"actor_id", f.ActorID},
	} {
		if eq.value == "" {
			continue
		}
		if err := pantry.CheckText(eq.col, eq.value, maxAuditFilterLen); err != nil {
			return "", nil, 0, err
		}
		q.where(eq.col + " = " + q.arg(eq.value))
	}
	if err := q.timeRange("at", f.From, f.To); err != nil {
		return "", nil, 0, err
	}
	if after {
		q.where("(at, id) < (" + q.arg(c.T) + ", " + q.arg(c.ID) + "::uuid)")
	}
	sql = `SELECT id, actor_type, actor_id, action, resource, resource_id, before, after, at FROM audit_log
		WHERE ` + q.clause() + " ORDER BY at DESC, id DESC LIMIT " + strconv.Itoa(limit+1)
	return sql, q.args, limit, nil
}

func scanAuditEntry(row pgx.CollectableRow) (cloud.AuditEntry, error) {
	var e cloud.AuditEntry
	var before, after []byte
	err := row.Scan(&e.ID, &e.ActorType, &e.ActorID, &e.Action, &e.Resource, &e.ResourceID, &before, &after, &e.At)
	e.At = e.At.UTC()
	if before != nil {
		e.Before = json.RawMessage(before)
	}
	if after != nil {
		e.After = json.RawMessage(after)
	}
	return e, err
}
