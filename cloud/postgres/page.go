package postgres

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// Page asks for one page of a list: at most Limit rows after Cursor (the
// next_cursor of the page before; empty for the first page).
type Page struct {
	Limit  int
	Cursor string
}

// Limits on a page's size.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// size returns the page size to use, refusing absurd ones.
func (p Page) size() (int, error) {
	switch {
	case p.Limit == 0:
		return DefaultPageSize, nil
	case p.Limit < 0 || p.Limit > MaxPageSize:
		return 0, pantry.Errorf(pantry.EINVALID, "limit must be between 1 and %d", MaxPageSize)
	}
	return p.Limit, nil
}

// cursor is the position after the last row of a page. Lists are ordered
// newest first by (time, id); ids are UUIDv7 and break ties.
type cursor struct {
	T  time.Time `json:"t"`
	ID string    `json:"id"`
}

// encodeCursor makes the opaque next_cursor for a page whose last row is
// (t, id).
func encodeCursor(t time.Time, id string) string {
	b, _ := json.Marshal(cursor{T: t.UTC(), ID: id})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor; ok is false for the first page.
func decodeCursor(s string) (c cursor, ok bool, err error) {
	if s == "" {
		return c, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 200 || json.Unmarshal(b, &c) != nil || !pantry.ValidID(c.ID) {
		return c, false, pantry.Errorf(pantry.EINVALID, "cursor is not one this API returned")
	}
	return c, true, nil
}
