package postgres

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

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
