package pantry_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/pantry/pantry/internal/pantry"
)

var allStatuses = []pantry.OrderStatus{pantry.StatusPlaced, pantry.StatusAccepted, pantry.StatusPreparing,
	pantry.StatusReady, pantry.StatusDelivered, pantry.StatusCancelled, "", "eaten"}

func TestNextStatus(t *testing.T) {
	want := map[pantry.OrderStatus]pantry.OrderStatus{
		pantry.StatusPlaced:    pantry.StatusAccepted,
		pantry.StatusAccepted:  pantry.StatusPreparing,
		pantry.StatusPreparing: pantry.StatusReady,
		pantry.StatusReady:     pantry.StatusDelivered,
	}
	for _, s := range allStatuses {
		got, ok := pantry.NextStatus(s)
		if w, open := want[s]; got != w || ok != open {
			t.Errorf("NextStatus(%q)=%q %v, want %q %v", s, got, ok, w, open)
		}
		if ok && !pantry.CanTransition(s, got) {
			t.Errorf("NextStatus(%q)=%q is not a transition", s, got)
		}
	}
}

// TestCanRecall: a recall undoes exactly one advance, and nothing else
// moves an order backwards.
func TestCanRecall(t *testing.T) {
	allowed := map[[2]pantry.OrderStatus]bool{
		{pantry.StatusAccepted, pantry.StatusPlaced}:    true,
		{pantry.StatusPreparing, pantry.StatusAccepted}: true,
		{pantry.StatusReady, pantry.StatusPreparing}:    true,
		{pantry.StatusDelivered, pantry.StatusReady}:    true,
	}
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			got, want := pantry.CanRecall(from, to), allowed[[2]pantry.OrderStatus{from, to}]
			if got != want {
				t.Errorf("CanRecall(%q, %q)=%v, want %v", from, to, got, want)
			}
			if got && !pantry.CanTransition(to, from) {
				t.Errorf("CanRecall(%q, %q) does not undo a transition", from, to)
			}
		}
	}
}

func TestCheckActionID(t *testing.T) {
	v4, v7 := uuid.NewString(), pantry.NewID()
	tests := []struct {
		name, id, want string
	}{
		{"V4", v4, v4},
		{"V7", v7, v7},
		{"UpperCaseIsLowered", strings.ToUpper(v7), v7},
		{"Empty", "", ""},
		{"Nil", "00000000-0000-0000-0000-000000000000", ""},
		{"Max", "ffffffff-ffff-ffff-ffff-ffffffffffff", ""},
		{"V1", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", ""},
		{"NoDashes", strings.ReplaceAll(v7, "-", ""), ""},
		{"Braces", "{" + v7 + "}", ""},
		{"URN", "urn:uuid:" + v7, ""},
		{"NotHex", "zzzzzzzz-zzzz-7zzz-8zzz-zzzzzzzzzzzz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pantry.CheckActionID(tt.id)
			if got != tt.want || (err == nil) != (tt.want != "") {
				t.Fatalf("CheckActionID(%q)=%q, %v; want %q", tt.id, got, err, tt.want)
			}
			if err != nil && pantry.ErrorCode(err) != pantry.EINVALID {
				t.Fatalf("code=%q, want invalid_input", pantry.ErrorCode(err))
			}
		})
	}
}

func TestOrderActionValidate(t *testing.T) {
	id := pantry.NewID()
	act := func(kind pantry.ActionKind, from pantry.OrderStatus, reason string) pantry.OrderAction {
		return pantry.OrderAction{ActionID: id, Action: kind, From: from, Reason: reason}
	}
	tests := []struct {
		name string
		act  pantry.OrderAction
		to   pantry.OrderStatus // "" when the action is refused
	}{
		{"AdvancePlaced", act(pantry.ActionAdvance, pantry.StatusPlaced, ""), pantry.StatusAccepted},
		{"AdvanceReady", act(pantry.ActionAdvance, pantry.StatusReady, ""), pantry.StatusDelivered},
		{"AdvanceDelivered", act(pantry.ActionAdvance, pantry.StatusDelivered, ""), ""},
		{"AdvanceCancelled", act(pantry.ActionAdvance, pantry.StatusCancelled, ""), ""},
		{"CancelPlaced", act(pantry.ActionCancel, pantry.StatusPlaced, "out of milk"), pantry.StatusCancelled},
		{"CancelAccepted", act(pantry.ActionCancel, pantry.StatusAccepted, "room empty"), pantry.StatusCancelled},
		{"CancelPreparing", act(pantry.ActionCancel, pantry.StatusPreparing, "too late"), ""},
		{"CancelWithoutReason", act(pantry.ActionCancel, pantry.StatusPlaced, ""), ""},
		{"CancelBlankReason", act(pantry.ActionCancel, pantry.StatusPlaced, " \n\t"), ""},
		{"CancelReason200Chars", act(pantry.ActionCancel, pantry.StatusPlaced, strings.Repeat("é", 200)), pantry.StatusCancelled},
		{"CancelReason201Chars", act(pantry.ActionCancel, pantry.StatusPlaced, strings.Repeat("x", 201)), ""},
		{"CancelReasonControl", act(pantry.ActionCancel, pantry.StatusPlaced, "a\x00b"), ""},
		{"CancelReasonBadUTF8", act(pantry.ActionCancel, pantry.StatusPlaced, "a\xffb"), ""},
		{"RecallDelivered", act(pantry.ActionRecall, pantry.StatusDelivered, ""), pantry.StatusReady},
		{"RecallAccepted", act(pantry.ActionRecall, pantry.StatusAccepted, ""), pantry.StatusPlaced},
		{"RecallPlaced", act(pantry.ActionRecall, pantry.StatusPlaced, ""), ""},
		{"RecallCancelled", act(pantry.ActionRecall, pantry.StatusCancelled, ""), ""},
		{"UnknownAction", act("eat", pantry.StatusPlaced, ""), ""},
		{"NoAction", act("", pantry.StatusPlaced, ""), ""},
		{"UnknownFrom", act(pantry.ActionAdvance, "eaten", ""), ""},
		{"NoFrom", act(pantry.ActionAdvance, "", ""), ""},
		{"NoActionID", pantry.OrderAction{Action: pantry.ActionAdvance, From: pantry.StatusPlaced}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.act
			err := a.Validate()
			if (err == nil) != (tt.to != "") {
				t.Fatalf("Validate()=%v, want ok=%v", err, tt.to != "")
			}
			if err != nil {
				if pantry.ErrorCode(err) != pantry.EINVALID {
					t.Fatalf("code=%q, want invalid_input", pantry.ErrorCode(err))
				}
				return
			}
			if got := a.To(); got != tt.to {
				t.Fatalf("To()=%q, want %q", got, tt.to)
			}
		})
	}
}
