package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// StationBacklog is the open orders waiting at one station.
type StationBacklog struct {
	// Station is the station of the lines; "" for lines of items without
	// one, which every tablet shows whatever its station.
	Station string
	// OpenOrders counts the open orders with a line at Station.
	OpenOrders int
	// Oldest is when the oldest of them was placed.
	Oldest time.Time
}

// OpenOrderStations counts the open orders by the stations of their lines,
// sorted by station; an order with lines at two stations counts at both.
// The edge's staff presence check calls it every few seconds: it reads
// only open orders (the orders_open index) and their lines.
func (s *Store) OpenOrderStations(ctx context.Context) ([]StationBacklog, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT l.station, COUNT(DISTINCT o.id), MIN(o.created_at)
		FROM orders o JOIN order_lines l ON l.order_id = o.id
		WHERE o.status IN ('placed', 'accepted', 'preparing', 'ready')
		GROUP BY l.station ORDER BY l.station`)
	if err != nil {
		return nil, fmt.Errorf("open orders by station: %w", err)
	}
	defer rows.Close()
	var out []StationBacklog
	for rows.Next() {
		var b StationBacklog
		var oldest int64
		if err := rows.Scan(&b.Station, &b.OpenOrders, &oldest); err != nil {
			return nil, fmt.Errorf("open orders by station: %w", err)
		}
		b.Oldest = fromNanos(oldest)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("open orders by station: %w", err)
	}
	return out, nil
}

// StaffPresence is the staff presence a running node last recorded, for
// `pantry edge status`, which reads the data directory and cannot ask the
// broker. It is a snapshot: trust it as of ObservedAt, and not at all if
// Running is false.
type StaffPresence struct {
	// ObservedAt is when the node recorded it. A running node records a
	// change at once and otherwise at least once a minute, so an older
	// snapshot with Running still true means the node stopped without
	// saying so (a crash, kill -9).
	ObservedAt time.Time `json:"observed_at"`
	// Running is false in the snapshot a node records as it stops.
	Running bool `json:"running"`
	// Tablets are the tablets connected at ObservedAt.
	Tablets []PresentTablet `json:"tablets"`
	// Absent are the stations with open orders and no tablet for longer
	// than the node's --staff-absent-after, as alerted.
	Absent []AbsentStation `json:"absent"`
}

// PresentTablet is one connected tablet in a StaffPresence.
type PresentTablet struct {
	Username string    `json:"username"`
	ClientID string    `json:"client_id"`
	Station  string    `json:"station"`
	Since    time.Time `json:"since"`
}

// AbsentStation is one station in a StaffPresence's alert.
type AbsentStation struct {
	Station    string    `json:"station"`
	Since      time.Time `json:"since"`
	OpenOrders int       `json:"open_orders"`
}

// staffPresenceKey is the meta key of the StaffPresence snapshot: one small
// JSON value, rewritten in place, needs no table of its own.
const staffPresenceKey = "staff_presence"

// SaveStaffPresence records p, replacing the previous snapshot.
func (s *Store) SaveStaffPresence(ctx context.Context, p StaffPresence) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode staff presence: %w", err)
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		return setMeta(ctx, tx, staffPresenceKey, string(body))
	})
	if err != nil {
		return fmt.Errorf("save staff presence: %w", err)
	}
	return nil
}

// LastStaffPresence returns the last snapshot SaveStaffPresence recorded;
// ok is false if no node has recorded one in this data directory.
func (s *Store) LastStaffPresence(ctx context.Context) (p StaffPresence, ok bool, err error) {
	v, err := getMeta(ctx, s.r, staffPresenceKey)
	if err != nil || v == "" {
		return p, false, err
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return p, false, fmt.Errorf("decode staff presence: %w", err)
	}
	return p, true, nil
}
