package cloud

import (
	"strings"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// Site is one building of an organization, served by one edge node.
type Site struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
	Currency string `json:"currency"`
	// CatalogRevision counts the changes to the configuration the site's
	// edge runs on (the site itself, rooms, menu, items, coupons, cost
	// centers, tablets); orders record the revision they were priced with.
	CatalogRevision int64      `json:"catalog_revision"`
	CreatedAt       time.Time  `json:"created_at"`
	ArchivedAt      *time.Time `json:"archived_at,omitempty"`
}

// SiteInput creates a site.
type SiteInput struct {
	Name     string
	Timezone string // an IANA zone name, e.g. "Europe/Berlin"
	Currency string // ISO 4217; fixed once the site exists
}

// SiteUpdate changes a site; nil fields stay as they are. The currency
// cannot change: menus' price overrides and the edge's orders are in it.
type SiteUpdate struct {
	Name     *string
	Timezone *string
	Archived *bool
}

// maxTimezoneLen bounds a timezone name (the longest IANA name is 32
// bytes) before it reaches time.LoadLocation, which reads a file.
const maxTimezoneLen = 64

// Normalize trims a new site's fields and checks its name, IANA timezone
// and ISO 4217 currency.
func (in *SiteInput) Normalize() error {
	in.Name, in.Timezone = strings.TrimSpace(in.Name), strings.TrimSpace(in.Timezone)
	if err := CheckRequired("name", in.Name, pantry.MaxNameLen); err != nil {
		return err
	}
	if err := checkTimezone(in.Timezone); err != nil {
		return err
	}
	if !pantry.ValidCurrency(in.Currency) {
		return pantry.Errorf(pantry.EINVALID, "currency %q is not an ISO 4217 code", in.Currency)
	}
	return nil
}

// Normalize trims and checks the fields up sets.
func (up *SiteUpdate) Normalize() error {
	if up.Name != nil {
		if err := trimRequired("name", &up.Name, pantry.MaxNameLen); err != nil {
			return err
		}
	}
	if up.Timezone != nil {
		tz := strings.TrimSpace(*up.Timezone)
		up.Timezone = &tz
		return checkTimezone(tz)
	}
	return nil
}

// checkTimezone accepts IANA zone names only. time.LoadLocation also
// takes "" and "Local" (the server's own zone), which name no building.
func checkTimezone(tz string) error {
	if tz == "" || tz == "Local" || pantry.CheckText("timezone", tz, maxTimezoneLen) != nil {
		return pantry.Errorf(pantry.EINVALID, "timezone %q is not an IANA time zone name (e.g. Europe/Berlin)", tz)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return pantry.Errorf(pantry.EINVALID, "timezone %q is not an IANA time zone name (e.g. Europe/Berlin)", tz)
	}
	return nil
}

// CheckRequired checks a required text field: present, at most max
// bytes, printable.
func CheckRequired(field, s string, max int) error {
	if s == "" {
		return pantry.Errorf(pantry.EINVALID, "%s is required", field)
	}
	return pantry.CheckText(field, s, max)
}

// trimRequired trims the optional field *p points to in place and checks
// it as CheckRequired does.
func trimRequired(field string, p **string, max int) error {
	v := strings.TrimSpace(**p)
	*p = &v
	return CheckRequired(field, v, max)
}

// Space is a meeting room of a site, with the code printed in its QR.
type Space struct {
	ID     string `json:"id"`
	SiteID string `json:"site_id"`
	Name   string `json:"name"`
	Floor  string `json:"floor"`
	// Code is the room's unguessable QR code: whoever holds it can order
	// into the room, so it is rotated (RotateSpaceCode) if a card leaks.
	Code       string     `json:"code"`
	CreatedAt  time.Time  `json:"created_at"`
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

// SpaceInput creates a space.
type SpaceInput struct {
	Name  string
	Floor string // free text ("3", "Mezzanine"); may be empty
}

// SpaceUpdate changes a space; nil fields stay as they are.
type SpaceUpdate struct {
	Name     *string
	Floor    *string
	Archived *bool
}

// Normalize trims a new room's name and floor and checks them.
func (in *SpaceInput) Normalize() error {
	in.Name, in.Floor = strings.TrimSpace(in.Name), strings.TrimSpace(in.Floor)
	if err := CheckRequired("name", in.Name, pantry.MaxNameLen); err != nil {
		return err
	}
	return pantry.CheckText("floor", in.Floor, maxFloorLen)
}

// Normalize trims and checks the fields up sets.
func (up *SpaceUpdate) Normalize() error {
	if up.Name != nil {
		if err := trimRequired("name", &up.Name, pantry.MaxNameLen); err != nil {
			return err
		}
	}
	if up.Floor != nil {
		floor := strings.TrimSpace(*up.Floor)
		up.Floor = &floor
		return pantry.CheckText("floor", floor, maxFloorLen)
	}
	return nil
}

// maxFloorLen bounds a space's floor label.
const maxFloorLen = 64
