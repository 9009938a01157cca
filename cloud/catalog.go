package cloud

import (
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/pantry/pantry/internal/pantry"
)

// Item is an entry of the organization's catalog. Sites sell it through
// their menus, possibly at another price (MenuItem).
type Item struct {
	ID                string       `json:"id"`
	Name              string       `json:"name"`
	Description       string       `json:"description"`
	Price             pantry.Money `json:"price"`
	Tags              []string     `json:"tags"`
	Allergens         []string     `json:"allergens"`
	LowStockThreshold int64        `json:"low_stock_threshold"`
	ImageURL          string       `json:"image_url"`
	// Station is where the pantry prepares the item, "" for none
	// (pantry.ValidStation); the edge's tablets filter tickets by it.
	Station    string     `json:"station"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

// ItemInput creates an item.
type ItemInput struct {
	Name              string
	Description       string
	Price             pantry.Money
	Tags              []string
	Allergens         []string
	LowStockThreshold int64
	ImageURL          string // http(s), or empty
	Station           string // pantry.ValidStation, or empty
}

// ItemUpdate changes an item; nil fields stay as they are.
type ItemUpdate struct {
	Name              *string
	Description       *string
	Price             *pantry.Money
	Tags              *[]string
	Allergens         *[]string
	LowStockThreshold *int64
	ImageURL          *string
	Station           *string // "" takes the item off every station
	Archived          *bool
}

// Normalize trims a new item's text and labels and checks every field
// against the catalog's rules.
func (in *ItemInput) Normalize() error {
	in.Name, in.Description, in.ImageURL = strings.TrimSpace(in.Name), strings.TrimSpace(in.Description), strings.TrimSpace(in.ImageURL)
	in.Station = strings.TrimSpace(in.Station)
	var err error
	if err = CheckRequired("name", in.Name, pantry.MaxNameLen); err != nil {
		return err
	}
	if err = pantry.CheckText("description", in.Description, MaxDescriptionLen); err != nil {
		return err
	}
	if err = in.Price.Validate(); err != nil {
		return err
	}
	if in.Tags, err = normalizeLabels("tags", in.Tags); err != nil {
		return err
	}
	if in.Allergens, err = normalizeLabels("allergens", in.Allergens); err != nil {
		return err
	}
	if err = checkThreshold(in.LowStockThreshold); err != nil {
		return err
	}
	if err = pantry.CheckStation(in.Station); err != nil {
		return err
	}
	return checkImageURL(in.ImageURL)
}

// Normalize trims and checks the fields up sets.
func (up *ItemUpdate) Normalize() error {
	if up.Name != nil {
		if err := trimRequired("name", &up.Name, pantry.MaxNameLen); err != nil {
			return err
		}
	}
	if up.Description != nil {
		d := strings.TrimSpace(*up.Description)
		up.Description = &d
		if err := pantry.CheckText("description", d, MaxDescriptionLen); err != nil {
			return err
		}
	}
	if up.Price != nil {
		if err := up.Price.Validate(); err != nil {
			return err
		}
	}
	if err := normalizeLabelsIn("tags", &up.Tags); err != nil {
		return err
	}
	if err := normalizeLabelsIn("allergens", &up.Allergens); err != nil {
		return err
	}
	if up.LowStockThreshold != nil {
		if err := checkThreshold(*up.LowStockThreshold); err != nil {
			return err
		}
	}
	if up.Station != nil {
		st := strings.TrimSpace(*up.Station)
		up.Station = &st
		if err := pantry.CheckStation(st); err != nil {
			return err
		}
	}
	if up.ImageURL != nil {
		u := strings.TrimSpace(*up.ImageURL)
		up.ImageURL = &u
		return checkImageURL(u)
	}
	return nil
}

// normalizeLabels trims tags or allergens and drops repeats, keeping the
// first spelling; an empty label, too many or too long ones are refused.
func normalizeLabels(field string, labels []string) ([]string, error) {
	if len(labels) > MaxItemLabels {
		return nil, pantry.Errorf(pantry.EINVALID, "at most %d %s", MaxItemLabels, field)
	}
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		l = strings.TrimSpace(l)
		if err := CheckRequired(field+" entry", l, MaxItemLabelLen); err != nil {
			return nil, err
		}
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, nil
}

// normalizeLabelsIn normalizes the optional labels *p points to, into a
// new slice: the caller's stays as it was.
func normalizeLabelsIn(field string, p **[]string) error {
	if *p == nil {
		return nil
	}
	norm, err := normalizeLabels(field, **p)
	*p = &norm
	return err
}

func checkThreshold(n int64) error {
	if n < 0 || n > MaxLowStockThreshold {
		return pantry.Errorf(pantry.EINVALID, "low_stock_threshold must be between 0 and %d", MaxLowStockThreshold)
	}
	return nil
}

// checkImageURL accepts "" or an absolute http or https URL: the
// dashboard and the edge's pages put it in an <img src>, where another
// scheme (javascript:, data:, file:) has no business.
func checkImageURL(s string) error {
	if s == "" {
		return nil
	}
	if err := pantry.CheckText("image_url", s, MaxImageURLLen); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t\n") {
		return pantry.Errorf(pantry.EINVALID, "image_url must be an http or https URL")
	}
	return nil
}

// Menu is what one site sells: which catalog items, whether each is
// available now, and at what price.
type Menu struct {
	SiteID   string `json:"site_id"`
	Currency string `json:"currency"`
	// CatalogRevision is the site's revision including this menu.
	CatalogRevision int64      `json:"catalog_revision"`
	Items           []MenuItem `json:"items"`
}

// MenuItem is one item of a site's menu. Its first three fields are a
// MenuEntry's, so a menu read can be edited and put back.
type MenuItem struct {
	ItemID    string `json:"item_id"`
	Available bool   `json:"available"`
	// Price is the site's override of the item's price, or nil.
	Price *pantry.Money `json:"price"`
	// EffectivePrice is what the site charges: the override if any, else
	// the item's own price.
	EffectivePrice pantry.Money `json:"effective_price"`
	Item           Item         `json:"item"`
}

// MenuEntry is one item of a menu as PutMenu takes it.
type MenuEntry struct {
	ItemID    string `json:"item_id"`
	Available bool   `json:"available"`
	// Price overrides the item's price at this site, in the site's
	// currency; nil sells at the item's own price.
	Price *pantry.Money `json:"price,omitempty"`
}

// CheckMenuEntries checks a menu's shape: size, ids, no item twice,
// valid override prices.
func CheckMenuEntries(entries []MenuEntry) error {
	if len(entries) > MaxMenuItems {
		return pantry.Errorf(pantry.EINVALID, "a menu may have at most %d items", MaxMenuItems)
	}
	seen := make(map[string]bool, len(entries))
	for i, e := range entries {
		if !pantry.ValidID(e.ItemID) {
			return pantry.Errorf(pantry.EINVALID, "menu item %d: item_id %q is not a UUID", i+1, e.ItemID)
		}
		if seen[e.ItemID] {
			return pantry.Errorf(pantry.EINVALID, "menu item %d: item %s appears twice", i+1, e.ItemID)
		}
		seen[e.ItemID] = true
		if e.Price != nil {
			if err := e.Price.Validate(); err != nil {
				return pantry.Errorf(pantry.EINVALID, "menu item %d: price: %s", i+1, pantry.ErrorMessage(err))
			}
		}
	}
	return nil
}

// Coupon is a discount code of the organization, valid at every site.
type Coupon struct {
	ID   string            `json:"id"`
	Code string            `json:"code"`
	Kind pantry.CouponKind `json:"kind"`
	// Value is a percentage (1-100) for a percent coupon, an amount in
	// minor units of the site's currency for a fixed one.
	Value     int64     `json:"value"`
	ValidFrom time.Time `json:"valid_from"`
	ValidTo   time.Time `json:"valid_to"`
	// MaxUsesPerSite limits redemptions at each site; 0 is unlimited.
	MaxUsesPerSite int64      `json:"max_uses_per_site"`
	CreatedAt      time.Time  `json:"created_at"`
	ArchivedAt     *time.Time `json:"archived_at,omitempty"`
}

// CouponInput creates a coupon.
type CouponInput struct {
	Code           string // unique in the organization, compared without regard to case
	Kind           pantry.CouponKind
	Value          int64
	ValidFrom      time.Time
	ValidTo        time.Time // after ValidFrom
	MaxUsesPerSite int64
}

// CouponUpdate changes a coupon; nil fields stay as they are. The result
// must be a valid coupon as a whole (e.g. a new ValidTo after the kept
// ValidFrom).
type CouponUpdate struct {
	Code           *string
	Kind           *pantry.CouponKind
	Value          *int64
	ValidFrom      *time.Time
	ValidTo        *time.Time
	MaxUsesPerSite *int64
	Archived       *bool
}

// Patch applies up to in, the stored coupon, and checks the result.
func (up *CouponUpdate) Patch(in *CouponInput) error {
	if up.Code != nil {
		in.Code = *up.Code
	}
	if up.Kind != nil {
		in.Kind = *up.Kind
	}
	if up.Value != nil {
		in.Value = *up.Value
	}
	if up.ValidFrom != nil {
		in.ValidFrom = *up.ValidFrom
	}
	if up.ValidTo != nil {
		in.ValidTo = *up.ValidTo
	}
	if up.MaxUsesPerSite != nil {
		in.MaxUsesPerSite = *up.MaxUsesPerSite
	}
	return in.Normalize()
}

// Check checks what up sets without the stored coupon: each field, and
// the rules between fields that it sets both of.
func (up *CouponUpdate) Check() error {
	if up.Code != nil {
		if err := checkCode("code", strings.TrimSpace(*up.Code)); err != nil {
			return err
		}
	}
	kind := pantry.CouponFixed // the wider range, unless up sets the kind
	if up.Kind != nil {
		kind = *up.Kind
	}
	if up.Kind != nil || up.Value != nil {
		value := int64(1)
		if up.Value != nil {
			value = *up.Value
		}
		if err := checkCouponValue(kind, value); err != nil {
			return err
		}
	}
	if up.ValidFrom != nil && up.ValidFrom.IsZero() || up.ValidTo != nil && up.ValidTo.IsZero() {
		return pantry.Errorf(pantry.EINVALID, "valid_from and valid_to are required")
	}
	if up.ValidFrom != nil && up.ValidTo != nil {
		if err := checkCouponWindow(*up.ValidFrom, *up.ValidTo); err != nil {
			return err
		}
	}
	if up.MaxUsesPerSite != nil {
		return checkCouponUses(*up.MaxUsesPerSite)
	}
	return nil
}

// Normalize trims a new coupon's code, keeps its window to the
// microsecond PostgreSQL stores, and checks code, value, window and uses.
func (in *CouponInput) Normalize() error {
	in.Code = strings.TrimSpace(in.Code)
	// PostgreSQL keeps microseconds: truncate so what is returned is what
	// was given.
	in.ValidFrom, in.ValidTo = in.ValidFrom.UTC().Truncate(time.Microsecond), in.ValidTo.UTC().Truncate(time.Microsecond)
	if err := checkCode("code", in.Code); err != nil {
		return err
	}
	if err := checkCouponValue(in.Kind, in.Value); err != nil {
		return err
	}
	if err := checkCouponWindow(in.ValidFrom, in.ValidTo); err != nil {
		return err
	}
	return checkCouponUses(in.MaxUsesPerSite)
}

func checkCouponValue(kind pantry.CouponKind, value int64) error {
	switch kind {
	case pantry.CouponPercent:
		if value < 1 || value > 100 {
			return pantry.Errorf(pantry.EINVALID, "a percent coupon's value must be between 1 and 100")
		}
	case pantry.CouponFixed:
		if value < 1 || value > pantry.MaxAmount {
			return pantry.Errorf(pantry.EINVALID, "a fixed coupon's value must be between 1 and %d minor units", int64(pantry.MaxAmount))
		}
	default:
		return pantry.Errorf(pantry.EINVALID, "kind must be %q or %q", pantry.CouponPercent, pantry.CouponFixed)
	}
	return nil
}

func checkCouponWindow(from, to time.Time) error {
	switch {
	case from.IsZero() || to.IsZero():
		return pantry.Errorf(pantry.EINVALID, "valid_from and valid_to are required")
	case !to.After(from):
		return pantry.Errorf(pantry.EINVALID, "valid_to must be after valid_from")
	}
	return nil
}

func checkCouponUses(n int64) error {
	if n < 0 || n > MaxCouponUses {
		return pantry.Errorf(pantry.EINVALID, "max_uses_per_site must be between 0 (unlimited) and %d", MaxCouponUses)
	}
	return nil
}

// checkCode checks a code people type or read out (a coupon's, a cost
// center's): 1 to pantry.MaxCodeLen bytes of printable text without
// spaces.
func checkCode(field, code string) error {
	if err := CheckRequired(field, code, pantry.MaxCodeLen); err != nil {
		return err
	}
	if strings.IndexFunc(code, unicode.IsSpace) >= 0 {
		return pantry.Errorf(pantry.EINVALID, "%s must not contain spaces", field)
	}
	return nil
}

// CostCenter is an accounting code orders can be charged to.
type CostCenter struct {
	ID         string     `json:"id"`
	Code       string     `json:"code"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

// CostCenterInput creates a cost center.
type CostCenterInput struct {
	Code string // unique in the organization, compared without regard to case
	Name string // may be empty
}

// CostCenterUpdate changes a cost center; nil fields stay as they are.
type CostCenterUpdate struct {
	Code     *string
	Name     *string
	Archived *bool
}

// Normalize trims and checks the fields up sets.
func (up *CostCenterUpdate) Normalize() error {
	if up.Code != nil {
		code := strings.TrimSpace(*up.Code)
		up.Code = &code
	}
	if up.Name != nil {
		name := strings.TrimSpace(*up.Name)
		up.Name = &name
	}
	return checkCostCenter(up.Code, up.Name)
}

// Normalize trims a new cost center's fields and checks them.
func (in *CostCenterInput) Normalize() error { return checkCostCenter(&in.Code, &in.Name) }

// checkCostCenter checks a cost center's code and name, each if not nil.
func checkCostCenter(code, name *string) error {
	if code != nil {
		if err := checkCode("code", *code); err != nil {
			return err
		}
	}
	if name != nil {
		return pantry.CheckText("name", *name, pantry.MaxNameLen)
	}
	return nil
}

// Limits on an item's fields: enough for a real catalog, small enough that
// the menu every edge pulls stays small.
const (
	MaxDescriptionLen    = 2000
	MaxItemLabels        = 20 // tags, and allergens
	MaxItemLabelLen      = 40
	MaxImageURLLen       = 2000
	MaxLowStockThreshold = 1_000_000
)

// MaxCouponUses bounds a coupon's per-site limit.
const MaxCouponUses = 1_000_000

// MaxMenuItems bounds one site's menu.
const MaxMenuItems = 1000
