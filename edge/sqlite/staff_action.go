package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// ActionTTL is how long the edge remembers the answer to a staff action.
// A retry comes seconds after its tap, or when a tablet that lost the
// network finds it again; a day covers a whole shift and keeps the table
// at one day of taps. A tap replayed after that is judged afresh, and its
// From check still keeps it from moving an order a second time.
const ActionTTL = 24 * time.Hour

// actionKey names one tap: the id the tablet made for it, the tablet, what
// it asked and of what. The same id with any other field is a different
// request, refused rather than answered with someone else's answer.
type actionKey struct {
	id, tabletID, kind, target string
	// request is the rest of what was asked (the status the tablet saw
	// and the reason, or sold out or back); only its hash is kept.
	request any
}

func (k actionKey) hash() ([]byte, error) {
	b, err := json.Marshal(k.request)
	if err != nil {
		return nil, fmt.Errorf("hash action %s: %w", k.id, err)
	}
	h := sha256.Sum256(b)
	return h[:], nil
}

// actionOutcome is the answer an action gave, as staff_actions keeps it:
// the order or item as the action left it, or the refusal.
type actionOutcome struct {
	Order   *orderSnapshot `json:"order,omitempty"`
	Item    *itemSnapshot  `json:"item,omitempty"`
	Refusal *refusal       `json:"refusal,omitempty"`
}

// orderSnapshot and itemSnapshot keep what the domain types' JSON leaves
// out (it is shaped for clients), so a replay returns the same value.
type orderSnapshot struct {
	pantry.Order
	SessionID string `json:"session_id"`
}

type itemSnapshot struct {
	pantry.Item
	Level int64 `json:"level"`
}

type refusal struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func orderOutcome(o pantry.Order) actionOutcome {
	return actionOutcome{Order: &orderSnapshot{Order: o, SessionID: o.SessionID}}
}

func itemOutcome(it pantry.Item) actionOutcome {
	return actionOutcome{Item: &itemSnapshot{Item: it, Level: it.Level}}
}

func (o actionOutcome) order() pantry.Order {
	if o.Order == nil {
		return pantry.Order{}
	}
	v := o.Order.Order
	v.SessionID = o.Order.SessionID
	return v
}

func (o actionOutcome) item() pantry.Item {
	if o.Item == nil {
		return pantry.Item{}
	}
	v := o.Item.Item
	v.Level = o.Item.Level
	return v
}

// refused returns the recorded refusal as an error, or nil.
func (o actionOutcome) refused() error {
	if o.Refusal == nil {
		return nil
	}
	return pantry.Errorf(o.Refusal.Code, "%s", o.Refusal.Message)
}

// recordable reports whether err is a refusal that depends on the state at
// the time of the tap (the order had moved, the window had passed): it is
// the action's answer, and a retry must get it again even if the state
// has changed since. Other errors (not found, a full disk) answer nothing
// and are not kept: a retry tries again.
func recordable(err error) bool {
	code := pantry.ErrorCode(err)
	return code == pantry.ECONFLICT || code == pantry.EINVALIDTRANSITION
}

// onceWrite runs act for the tap key names, in a write transaction of its
// own, unless the tap was seen already: then it does nothing and returns
// the first answer with replayed set. The check, the action and the
// record of its answer commit together, and the single writer runs one
// request at a time, so two copies of a tap can never both act.
func (s *Store) onceWrite(ctx context.Context, key actionKey, act func(ctx context.Context, tx *wtx) (actionOutcome, error)) (out actionOutcome, replayed bool, err error) {
	hash, err := key.hash()
	if err != nil {
		return actionOutcome{}, false, err
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		out, replayed, err = s.once(ctx, tx, key, hash, act)
		return err
	})
	return out, replayed, err
}

func (s *Store) once(ctx context.Context, tx *wtx, key actionKey, hash []byte, act func(ctx context.Context, tx *wtx) (actionOutcome, error)) (actionOutcome, bool, error) {
	now := s.now()
	// Pruning here, as taps arrive, bounds the table without a background
	// job; the index on created_at makes it a short range delete.
	if _, err := tx.ExecContext(ctx, `DELETE FROM staff_actions WHERE created_at < ?`, now.Add(-ActionTTL).UnixNano()); err != nil {
		return actionOutcome{}, false, fmt.Errorf("prune staff actions: %w", err)
	}
	if out, seen, err := lookupAction(ctx, tx, key, hash); err != nil || seen {
		return out, seen, err
	}
	out, err := inSavepoint(ctx, tx, act)
	if err != nil && !recordable(err) {
		return actionOutcome{}, false, err
	}
	if err != nil {
		out = actionOutcome{Refusal: &refusal{Code: pantry.ErrorCode(err), Message: pantry.ErrorMessage(err)}}
	}
	return out, false, recordAction(ctx, tx, key, hash, out, now)
}

// lookupAction returns the answer recorded for the tap key names, if any.
func lookupAction(ctx context.Context, tx *wtx, key actionKey, hash []byte) (actionOutcome, bool, error) {
	var tabletID, kind, target, outcome string
	var stored []byte
	err := tx.QueryRowContext(ctx, `SELECT tablet_id, kind, target_id, request_hash, outcome FROM staff_actions WHERE id = ?`,
		key.id).Scan(&tabletID, &kind, &target, &stored, &outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return actionOutcome{}, false, nil
	}
	if err != nil {
		return actionOutcome{}, false, fmt.Errorf("look up staff action %s: %w", key.id, err)
	}
	if tabletID != key.tabletID || kind != key.kind || target != key.target || !bytes.Equal(stored, hash) {
		return actionOutcome{}, false, pantry.Errorf(pantry.ECONFLICT, "action_id %s was already used for another action; make a new one for each tap", key.id)
	}
	var out actionOutcome
	if err := json.Unmarshal([]byte(outcome), &out); err != nil {
		return actionOutcome{}, false, fmt.Errorf("staff action %s outcome: %w", key.id, err)
	}
	return out, true, nil
}

func recordAction(ctx context.Context, tx *wtx, key actionKey, hash []byte, out actionOutcome, now time.Time) error {
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("record staff action %s: %w", key.id, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO staff_actions (id, tablet_id, kind, target_id, request_hash, outcome, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, key.id, key.tabletID, key.kind, key.target, hash, string(b), now.UnixNano())
	if err != nil {
		return fmt.Errorf("record staff action %s: %w", key.id, err)
	}
	return nil
}

// inSavepoint runs act inside a savepoint nested in the request's own, so
// that a refused action leaves none of its writes behind while the
// refusal itself is still recorded in the same transaction.
func inSavepoint(ctx context.Context, tx *wtx, act func(ctx context.Context, tx *wtx) (actionOutcome, error)) (actionOutcome, error) {
	if err := tx.raw(ctx, "SAVEPOINT action"); err != nil {
		return actionOutcome{}, storageErr("savepoint", err)
	}
	out, err := act(ctx, tx)
	if err != nil {
		if rbErr := tx.raw(ctx, "ROLLBACK TO action"); rbErr != nil {
			// SQLite has rolled the whole transaction back (a full disk):
			// nothing may be recorded, so err's code must not survive.
			return actionOutcome{}, fmt.Errorf("after %v: %w", err, storageErr("roll back action", rbErr))
		}
	}
	if relErr := tx.raw(ctx, "RELEASE action"); relErr != nil {
		return actionOutcome{}, storageErr("release savepoint", relErr)
	}
	return out, err
}

// ItemActionResult is the answer to a tablet marking an item sold out or
// back; Replayed as in OrderActionResult.
type ItemActionResult struct {
	Item     pantry.Item
	Replayed bool
}

// SetAvailabilityOnce is SetAvailability for a tap that carries an action
// id, answered once as ApplyOrderAction is. The switch alone would be
// idempotent (off twice is off), but each call records an outbox event,
// and a retry that arrives late, after a newer tap turned the item back
// on, would turn it off again: the first answer, replayed, does neither.
func (s *Store) SetAvailabilityOnce(ctx context.Context, actionID, itemID string, available bool, by Tablet) (ItemActionResult, error) {
	id, err := pantry.CheckActionID(actionID)
	if err != nil {
		return ItemActionResult{}, err
	}
	key := actionKey{id: id, tabletID: by.ID, kind: "availability", target: itemID, request: available}
	out, replayed, err := s.onceWrite(ctx, key, func(ctx context.Context, tx *wtx) (actionOutcome, error) {
		it, err := s.setAvailability(ctx, tx, itemID, available, by.Username)
		return itemOutcome(it), err
	})
	if err != nil {
		return ItemActionResult{}, fmt.Errorf("set availability: %w", err)
	}
	return ItemActionResult{Item: out.item(), Replayed: replayed}, out.refused()
}
