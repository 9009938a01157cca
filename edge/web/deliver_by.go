package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/internal/pantry"
)

// The order form's "Deliver at" is a time of day on the building's clock
// (an <input type=time>: "14:30"), not an instant; deliverAt makes it one.

// formWindow decides which day a form's time of day means: the one that
// puts it nearest to now, within formWindow either side. At 23:30,
// "00:30" is tomorrow's, in an hour; at 00:30, "23:30" was yesterday's,
// an hour ago, and is refused as past. A time of day is never read as
// more than formWindow ahead, so one that just passed (14:00 picked at
// 14:05, or 02:30 picked for 14:30 on a 12-hour picker) is refused, not
// quietly queued for tomorrow. The cost: the form orders at most 12 hours
// ahead; the JSON API, which takes a full RFC 3339 time, the whole
// pantry.MaxDeliverAhead.
const formWindow = 12 * time.Hour

// deliverAt turns the form's value (HH:MM or HH:MM:SS, "" for none) into
// an instant on the clock of loc, the one nearest to now (formWindow). It
// checks only the value's shape; PlaceOrder.CheckDeliverBy checks the
// instant.
func deliverAt(value string, now time.Time, loc *time.Location) (*time.Time, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, nil
	}
	var clock time.Time
	var err error
	for _, layout := range []string{"15:04", "15:04:05"} {
		if clock, err = time.Parse(layout, value); err == nil {
			break
		}
	}
	if err != nil {
		if len(value) > 16 {
			value = value[:16] + "…"
		}
		return nil, pantry.Errorf(pantry.EINVALID, "Deliver at: %q is not a time of day; enter it as 14:30, or leave it empty for as soon as possible", value)
	}
	local := now.In(loc)
	on := func(day int) time.Time {
		return time.Date(local.Year(), local.Month(), local.Day()+day, clock.Hour(), clock.Minute(), clock.Second(), 0, loc)
	}
	// One step at most: across a change to or from summer time a day is
	// 23 or 25 hours, and the window is 24.
	at := on(0)
	switch {
	case at.Before(now.Add(-formWindow)):
		at = on(1)
	case !at.Before(now.Add(formWindow)):
		at = on(-1)
	}
	at = at.UTC()
	return &at, nil
}

// formDeliverBy sets req.DeliverBy from the form's "Deliver at" and checks
// it, with a message that speaks the form's language (a time of day, not
// an RFC 3339 instant) when it has passed.
func (a *app) formDeliverBy(c *fiber.Ctx, req *pantry.PlaceOrder, value string) error {
	now := a.Now()
	at, err := deliverAt(value, now, a.location(c))
	if err != nil || at == nil {
		return err
	}
	req.DeliverBy = at
	if err := req.CheckDeliverBy(now); err != nil {
		if ago := now.Sub(*at); ago > 0 {
			return pantry.Errorf(pantry.EINVALID, "Deliver at %s: that was %s ago. Choose a time in the next %d hours, or leave it empty for as soon as possible",
				strings.TrimSpace(value), roughly(ago), int(formWindow.Hours()))
		}
		return err
	}
	return nil
}

// roughly says how long d is to a person: "5 minutes", "3 hours".
func roughly(d time.Duration) string {
	n, unit := int(d.Minutes()), "minute"
	if d >= 90*time.Minute {
		n, unit = int(d.Round(time.Hour).Hours()), "hour"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}

// location is the time zone of the building: the site's, as the cloud
// configured it (the demo's is Europe/Amsterdam). A node with no site, or
// with a zone this binary cannot load, uses the server's local time zone,
// and says so in its log.
func (a *app) location(c *fiber.Ctx) *time.Location {
	site, err := a.Store.Site(a.ctx(c))
	if err != nil {
		a.Log.Warn("no site time zone; using the server's", "zone", time.Local.String(), "err", err)
		return time.Local
	}
	loc, err := time.LoadLocation(site.Timezone)
	if err != nil {
		a.Log.Warn("cannot load the site's time zone; using the server's", "site_zone", site.Timezone, "zone", time.Local.String(), "err", err)
		return time.Local
	}
	return loc
}

// deliverByText is how an order page says when the order is wanted:
// "Deliver by 14:30" on the building's clock ("Ready by" for a pickup),
// with the day when it is not the day the order was placed. "" for an
// order without a time.
func deliverByText(o pantry.Order, loc *time.Location) string {
	if o.DeliverBy == nil {
		return ""
	}
	at, placed := o.DeliverBy.In(loc), o.CreatedAt.In(loc)
	when := at.Format("15:04")
	if y, m, d := at.Date(); y != placed.Year() || m != placed.Month() || d != placed.Day() {
		when = fmt.Sprintf("%s on %s", when, at.Format("Mon 2 Jan"))
	}
	if o.DeliverTo == pantry.DeliverPickup {
		return "Ready by " + when
	}
	return "Deliver by " + when
}
