package pantry

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// ActionKind is what a pantry tablet asks of an order with one tap.
type ActionKind string

// A tablet advances an order one step, cancels it with a reason, or
// recalls its last advance (undo).
const (
	ActionAdvance ActionKind = "advance"
	ActionCancel  ActionKind = "cancel"
	ActionRecall  ActionKind = "recall"
)

// RecallWindow is how long after an advance a tablet may recall it. A
// minute is long enough to notice a mis-tap or a ticket bumped on the
// wrong tablet, and short enough that an order is not pulled back after
// the tray has left the pantry and the attendee's page has stopped
// following it (it stops at delivered).
const RecallWindow = time.Minute

// MaxActionReason bounds a staff action's reason, in characters: a reason
// picked from the tablet's list plus a few words fits in a line of the
// ticket and of the attendee's page.
const MaxActionReason = 200

// NextStatus returns the status an open order advances to: the one after
// s on the way to delivered (PathTo(StatusDelivered)), so the lifecycle
// is still written down only once, in transitions. It reports false for
// a closed or unknown status.
func NextStatus(s OrderStatus) (OrderStatus, bool) {
	path := paths[StatusDelivered]
	for i := 0; i+1 < len(path); i++ {
		if path[i] == s {
			return path[i+1], true
		}
	}
	return "", false
}

// CanRecall reports whether an order may move back from one status to
// another: only to the step before it on the way to delivered, which
// undoes exactly one advance. The state machine otherwise never moves
// backwards, and a cancellation is never recalled: it returned the
// order's stock, and the cloud has taken it out of its reports.
func CanRecall(from, to OrderStatus) bool {
	next, ok := NextStatus(to)
	return ok && next == from
}

// OrderAction is a tablet's request to act on one order. ActionID is made
// by the tablet once per tap (a UUID, version 4 or 7) and sent again with
// every retry of that tap, so the edge answers a retry or a double tap
// with the first answer instead of acting twice. From is the status the
// tablet saw: the edge acts only if the order is still in it, so two
// tablets tapping the same ticket move it once.
type OrderAction struct {
	ActionID string      `json:"action_id"`
	Action   ActionKind  `json:"action"`
	From     OrderStatus `json:"from"`
	Reason   string      `json:"reason"`
}

// Validate checks the request's shape and normalizes ActionID to lower
// case (one tap, one spelling); whether the order is still in From is the
// store's business.
func (a *OrderAction) Validate() error {
	id, err := CheckActionID(a.ActionID)
	if err != nil {
		return err
	}
	a.ActionID = id
	if err := a.checkFrom(); err != nil {
		return err
	}
	return a.checkReason()
}

// To returns the status the action moves an order in From to. It is
// meaningful only for a valid action.
func (a OrderAction) To() OrderStatus {
	switch a.Action {
	case ActionAdvance:
		next, _ := NextStatus(a.From)
		return next
	case ActionCancel:
		return StatusCancelled
	case ActionRecall:
		for _, s := range paths[StatusDelivered] {
			if CanRecall(a.From, s) {
				return s
			}
		}
	}
	return ""
}

func (a OrderAction) checkFrom() error {
	switch a.Action {
	case ActionAdvance, ActionCancel, ActionRecall:
	default:
		return Errorf(EINVALID, "action must be \"advance\", \"cancel\" or \"recall\"")
	}
	if !a.From.Valid() {
		return Errorf(EINVALID, "from must be the order status the tablet shows")
	}
	ok := false
	switch a.Action {
	case ActionAdvance:
		_, ok = NextStatus(a.From)
	case ActionCancel:
		ok = CanTransition(a.From, StatusCancelled)
	case ActionRecall:
		ok = a.To() != ""
	}
	if !ok {
		return Errorf(EINVALID, "an order that is %s cannot be given %s", a.From, a.Action)
	}
	return nil
}

func (a OrderAction) checkReason() error {
	if len(a.Reason) > 4*MaxActionReason || utf8.RuneCountInString(a.Reason) > MaxActionReason {
		return Errorf(EINVALID, "reason is longer than %d characters", MaxActionReason)
	}
	if err := CheckText("reason", a.Reason, 4*MaxActionReason); err != nil {
		return err
	}
	if a.Action == ActionCancel && strings.TrimSpace(a.Reason) == "" {
		return Errorf(EINVALID, "cancelling an order needs a reason")
	}
	return nil
}

// CheckActionID checks a tablet's action id and returns it in lower case.
// Only a random (4) or time-ordered (7) UUID will do: an id the tablet did
// not make afresh, such as the nil UUID, would make unrelated taps replay
// each other's answers.
func CheckActionID(id string) (string, error) {
	bad := Errorf(EINVALID, "action_id must be a UUID (version 4 or 7) the tablet makes for each tap")
	if !ValidID(id) {
		return "", bad
	}
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 4 && u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		return "", bad
	}
	return strings.ToLower(id), nil
}
