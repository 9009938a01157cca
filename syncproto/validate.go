package syncproto

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Bounds of the fields of events and messages. They match the edge's own
// input limits with room to spare: an edge never writes more, and the
// cloud refuses more as invalid rather than storing it.
const (
	maxName       = 200
	maxNote       = 500
	maxCode       = 64
	maxLines      = 50
	maxQuantity   = 100
	maxStockDelta = 100_000
	maxAmount     = 100_000_000_00
	maxToken      = 256
)

// Validate checks an enrollment request.
func (r *EnrollRequest) Validate() error {
	var c check
	c.version(r.Version)
	if r.Token == "" || len(r.Token) > maxToken {
		c.fail("token must be 1 to %d characters", maxToken)
	}
	c.text("name", r.Name, maxName)
	c.text("software_version", r.SoftwareVersion, maxName)
	if r.PreviousNodeID != "" {
		c.id("previous_node_id", r.PreviousNodeID)
	}
	return c.err
}

// Validate checks a push: its envelope and that its events are
// consecutive. It does not decode payloads: an event with a bad payload
// is the cloud's to dead-letter, not a reason to refuse its neighbours.
func (r *PushRequest) Validate() error {
	var c check
	c.version(r.Version)
	c.id("node_id", r.NodeID)
	c.text("software_version", r.SoftwareVersion, maxName)
	if len(r.Events) == 0 || len(r.Events) > MaxBatchEvents {
		c.fail("a push carries 1 to %d events, not %d", MaxBatchEvents, len(r.Events))
	}
	for i, e := range r.Events {
		if c.err != nil {
			break
		}
		if e.Seq < 1 {
			c.fail("events[%d].seq %d is not positive", i, e.Seq)
		} else if i > 0 && e.Seq != r.Events[0].Seq+int64(i) {
			c.fail("events[%d].seq is %d, want %d: a push carries consecutive events", i, e.Seq, r.Events[0].Seq+int64(i))
		}
		c.id(fmt.Sprintf("events[%d].id", i), e.ID)
		c.text(fmt.Sprintf("events[%d].type", i), e.Type, maxName)
		c.text(fmt.Sprintf("events[%d].entity_id", i), e.EntityID, maxName)
		if e.Schema < 1 {
			c.fail("events[%d].schema %d is not positive", i, e.Schema)
		}
	}
	return c.err
}

// Validate checks the cloud's answer about a node before an edge acts on
// it: an edge restored from a backup renumbers its outbox by AppliedSeq.
func (r *NodeInfo) Validate() error {
	var c check
	c.version(r.Version)
	c.id("node_id", r.NodeID)
	c.id("site_id", r.SiteID)
	if r.AppliedSeq < 0 {
		c.fail("applied_seq %d is negative", r.AppliedSeq)
	}
	if r.DeadLetters < 0 {
		c.fail("dead_letters %d is negative", r.DeadLetters)
	}
	c.text("cloud_version", r.CloudVersion, maxName)
	return c.err
}

// Validate checks a pull.
func (r *PullRequest) Validate() error {
	var c check
	c.version(r.Version)
	c.id("node_id", r.NodeID)
	c.text("software_version", r.SoftwareVersion, maxName)
	if r.Cursor.ConfigRevision < 0 || r.Cursor.StockSeq < 0 {
		c.fail("cursor %+v has a negative counter", r.Cursor)
	}
	if r.WaitSeconds < 0 || r.WaitSeconds > int(MaxPullWait/time.Second) {
		c.fail("wait_seconds %d is not between 0 and %d", r.WaitSeconds, int(MaxPullWait/time.Second))
	}
	if st := r.Status; st != nil {
		if st.TabletsOnline < 0 || st.TabletsOnline > MaxTabletsOnline {
			c.fail("status.tablets_online %d is not between 0 and %d", st.TabletsOnline, MaxTabletsOnline)
		}
		if st.OutboxOldestAt != nil && (st.OutboxOldestAt.Year() < 2000 || st.OutboxOldestAt.Year() > 9999) {
			c.fail("status.outbox_oldest_at %s is not a plausible time", st.OutboxOldestAt.Format(time.RFC3339))
		}
	}
	return c.err
}

// MaxTabletsOnline bounds PullRequest.Status.TabletsOnline: far more
// tablets than one building's broker holds.
const MaxTabletsOnline = 100000

// maxStation bounds a station's name (pantry.MaxStationLen).
const maxStation = 32

// ValidStation reports whether s may be an item's station: "" (none), or
// 1 to 32 lowercase ASCII letters, digits and hyphens, other than "all"
// (which a staff tablet chooses to see every station). It is
// pantry.ValidStation's rule written out again, because syncproto imports
// only the standard library; a test in edge/sqlite checks that the two
// agree. The edge refuses a configuration with any other station rather
// than store a name no tablet could choose.
func ValidStation(s string) bool {
	if len(s) > maxStation || s == "all" {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// check collects the first validation failure.
type check struct{ err error }

func (c *check) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

func (c *check) version(v int) {
	if (v < MinVersion || v > Version) && c.err == nil {
		c.err = &VersionError{Got: v}
	}
}

func (c *check) id(field, s string) {
	if !ValidID(s) {
		c.fail("%s %q is not a UUID", field, clip(s))
	}
}

func (c *check) text(field, s string, max int) {
	if len(s) > max*4 || utf8.RuneCountInString(s) > max {
		c.fail("%s is longer than %d characters", field, max)
	} else if !utf8.ValidString(s) {
		c.fail("%s is not valid UTF-8", field)
	}
}

func (c *check) oneOf(field, s string, allowed map[string]bool) {
	if !allowed[s] {
		c.fail("%s %q is not one of the known values", field, clip(s))
	}
}

func (c *check) time(field string, t time.Time) {
	if t.IsZero() || t.Year() < 2000 || t.Year() > 9999 {
		c.fail("%s %s is missing or out of range", field, t.Format(time.RFC3339))
	}
}

func (c *check) money(field string, m Money, currency string) {
	switch {
	case !validCurrency(m.Currency):
		c.fail("%s currency %q is not an ISO 4217 code", field, clip(m.Currency))
	case m.Currency != currency:
		c.fail("%s is in %s, the order in %s", field, m.Currency, currency)
	case m.Amount < 0 || m.Amount > maxAmount:
		c.fail("%s amount %d is not between 0 and %d", field, m.Amount, int64(maxAmount))
	}
}

// VersionError is a message in a protocol version this side does not
// speak (ErrVersion).
type VersionError struct{ Got int }

func (e *VersionError) Error() string {
	return fmt.Sprintf("protocol version %d is not supported (this side speaks %d to %d)", e.Got, MinVersion, Version)
}

// ValidID reports whether s is a UUID in canonical lower- or upper-case
// form (8-4-4-4-12 hex digits).
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func set(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
