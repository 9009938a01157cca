package cloud

import (
	"testing"

	"github.com/pantry/pantry/internal/pantry"
)

func TestCheckParLevelChanges(t *testing.T) {
	id, other := pantry.NewID(), pantry.NewID()
	n := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name    string
		changes []ParLevelChange
		ok      bool
	}{
		{"SetAndClear", []ParLevelChange{{ItemID: id, Par: n(0)}, {ItemID: other}}, true},
		{"Max", []ParLevelChange{{ItemID: id, Par: n(MaxParLevel)}}, true},
		{"Negative", []ParLevelChange{{ItemID: id, Par: n(-1)}}, false},
		{"Absurd", []ParLevelChange{{ItemID: id, Par: n(MaxParLevel + 1)}}, false},
		{"Twice", []ParLevelChange{{ItemID: id, Par: n(1)}, {ItemID: id}}, false},
		{"NotAnID", []ParLevelChange{{ItemID: "coffee", Par: n(1)}}, false},
		{"TooMany", make([]ParLevelChange, MaxParChanges+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckParLevelChanges(tc.changes)
			if got := err == nil; got != tc.ok {
				t.Fatalf("CheckParLevelChanges: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && pantry.ErrorCode(err) != pantry.EINVALID {
				t.Fatalf("code %q, want %q", pantry.ErrorCode(err), pantry.EINVALID)
			}
		})
	}
}
