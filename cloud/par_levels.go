package cloud

import (
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// ParLevel is how many units of an item a site's pantry should hold once
// restocked. The restock list asks for par − level of each item below
// its par. Par levels are the cloud's alone: the edge counts stock, it
// does not plan deliveries, so they never travel down to it.
type ParLevel struct {
	ItemID    string    `json:"item_id"`
	Par       int64     `json:"par"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ParLevelChange sets one item's par level at a site, or with Par nil
// clears it (the item then has no par, which is not a par of 0: an item
// with par 0 is one the pantry should not keep).
type ParLevelChange struct {
	ItemID string
	Par    *int64
}

// Limits on par levels: MaxParLevel is the stock ledger's own bound on one
// movement (pantry.MaxStockDelta), so a restock list never asks for a
// delivery the ledger could not record; MaxParChanges bounds one edit.
const (
	MaxParLevel   = pantry.MaxStockDelta
	MaxParChanges = 1000
)

// CheckParLevelChanges checks an edit of a site's par levels: at most
// MaxParChanges, each item once, each par from 0 to MaxParLevel.
func CheckParLevelChanges(changes []ParLevelChange) error {
	if len(changes) > MaxParChanges {
		return pantry.Errorf(pantry.EINVALID, "at most %d par levels can be changed at once", MaxParChanges)
	}
	seen := make(map[string]bool, len(changes))
	for i, ch := range changes {
		switch {
		case !pantry.ValidID(ch.ItemID):
			return pantry.Errorf(pantry.EINVALID, "par level %d: item %q is not a UUID", i+1, ch.ItemID)
		case seen[ch.ItemID]:
			return pantry.Errorf(pantry.EINVALID, "par level %d: item %s is listed twice", i+1, ch.ItemID)
		case ch.Par != nil && (*ch.Par < 0 || *ch.Par > MaxParLevel):
			return pantry.Errorf(pantry.EINVALID, "par level %d: a par level must be from 0 to %d", i+1, MaxParLevel)
		}
		seen[ch.ItemID] = true
	}
	return nil
}
