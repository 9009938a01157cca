package cloud

import (
	"strings"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// User is an admin-dashboard user of one organization.
type User struct {
	ID        string     `json:"id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	SiteIDs   []string   `json:"site_ids"`
	Disabled  bool       `json:"disabled"`
	CreatedAt time.Time  `json:"created_at"`
	LastLogin *time.Time `json:"-"`
}

// UserInput creates a user; PasswordHash comes from auth.HashPassword.
type UserInput struct {
	Email, Name  string
	Role         Role
	SiteIDs      []string
	PasswordHash string
}

// UserUpdate changes a user; nil fields stay as they are.
type UserUpdate struct {
	Name     *string
	Role     *Role
	SiteIDs  *[]string
	Disabled *bool
}

// CheckUserFields checks what a new or changed user may be: a printable
// name, a user role (not technician, which is an API key's), and at most
// 1000 site ids.
func CheckUserFields(name string, role *Role, sites []string) error {
	if err := pantry.CheckText("name", name, pantry.MaxNameLen); err != nil {
		return err
	}
	if role != nil && (!role.Valid() || *role == RoleTechnician) {
		return pantry.Errorf(pantry.EINVALID, "role must be owner, admin, facility_manager or viewer")
	}
	if len(sites) > 1000 {
		return pantry.Errorf(pantry.EINVALID, "a user may manage at most 1000 sites")
	}
	for _, id := range sites {
		if !pantry.ValidID(id) {
			return pantry.Errorf(pantry.EINVALID, "site id %q is not a UUID", id)
		}
	}
	return nil
}

// APIKey is a technician's API key as listings show it: never the key.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// Tablet is a staff tablet's credential at one site. The password is
// shown once, by CreateTablet; the store keeps only its hash and never
// returns it.
type Tablet struct {
	ID        string     `json:"id"`
	SiteID    string     `json:"site_id"`
	Name      string     `json:"name"`
	Username  string     `json:"username"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// NewOrganization is a tenant to create together with its first user, who
// owns it.
type NewOrganization struct {
	Name string
	// Slug is the short name people type to sign in with single sign-on
	// ("acme"); empty: SlugFromName of the name, made unique.
	Slug       string
	OwnerEmail string
	OwnerName  string
	// OwnerPasswordHash is the owner's password as cloud/auth hashed it;
	// the store never sees a password.
	OwnerPasswordHash string
}

// CreatedOrganization names what CreateOrganization made.
type CreatedOrganization struct {
	OrgID       string
	Slug        string
	OwnerUserID string
}

// Check checks a new organization whose trimmed name and normalized
// owner email are name and email.
func (in NewOrganization) Check(name, email string) error {
	if name == "" {
		return pantry.Errorf(pantry.EINVALID, "the organization needs a name")
	}
	if err := pantry.CheckText("name", name, pantry.MaxNameLen); err != nil {
		return err
	}
	if err := pantry.CheckText("owner name", in.OwnerName, pantry.MaxNameLen); err != nil {
		return err
	}
	if !ValidEmail(email) {
		return pantry.Errorf(pantry.EINVALID, "%q is not an email address", in.OwnerEmail)
	}
	if in.OwnerPasswordHash == "" {
		return pantry.Errorf(pantry.EINVALID, "the owner needs a password")
	}
	if in.Slug != "" && !ValidSlug(in.Slug) {
		return pantry.Errorf(pantry.EINVALID, "the slug: %s", SlugRule)
	}
	return nil
}

// MaxSlugLen is the longest organization slug.
const MaxSlugLen = 40

// SlugRule says what a slug may be, for error messages.
const SlugRule = "use 2 to 40 lower-case letters, digits and hyphens, starting and ending with a letter or digit"

// ValidSlug reports whether s may be an organization's slug: 2 to 40
// lower-case ASCII letters, digits and hyphens, not starting or ending
// with a hyphen, and not shaped like an id (so that where either may be
// given, /login/sso?org=, the two never meet).
func ValidSlug(s string) bool {
	if len(s) < 2 || len(s) > MaxSlugLen || s[0] == '-' || s[len(s)-1] == '-' || pantry.ValidID(s) {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// SlugFromName is the slug an organization's name gives: lower-case ASCII
// letters and digits kept, every other run of characters one hyphen, at
// most MaxSlugLen long; "org" when that leaves less than two characters.
// Migration 0016 gave existing organizations theirs the same way.
func SlugFromName(name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			hyphen = false
			continue
		}
		hyphen = true
	}
	s := strings.TrimRight(b.String()[:min(b.Len(), MaxSlugLen)], "-")
	if len(s) < 2 || pantry.ValidID(s) {
		return "org"
	}
	return s
}

// NormalizeEmail is how the store keeps and finds emails: trimmed and
// lower-cased, so that Ann@Example.com and ann@example.com are one login.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidEmail reports whether email (normalized) looks like one address:
// one @ with something on both sides, no spaces or control characters, at
// most 254 bytes. Whether it receives mail is not the store's business.
func ValidEmail(email string) bool {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(email) > 254 {
		return false
	}
	return pantry.CheckText("email", email, 254) == nil && !strings.ContainsAny(email, " \t\n")
}

// LoginLookup is what logging in needs to know about a user by email.
type LoginLookup struct {
	OrgID        string
	UserID       string
	PasswordHash string
	Role         string
	Disabled     bool
}

// RefreshTokenLookup is a refresh token found by its hash.
type RefreshTokenLookup struct {
	OrgID     string
	ID        string
	UserID    string
	FamilyID  string
	ExpiresAt time.Time
	UsedAt    *time.Time // set once it was exchanged: presenting it again is reuse
	RevokedAt *time.Time
}

// APIKeyLookup is an API key found by its hash.
type APIKeyLookup struct {
	OrgID     string
	ID        string
	Name      string
	CreatedBy *string
	RevokedAt *time.Time
}

// EdgeNodeLookup is an enrolled edge node found by its credential's hash.
type EdgeNodeLookup struct {
	OrgID     string
	ID        string
	SiteID    string
	RevokedAt *time.Time
}

// EnrollmentLookup is a one-time enrollment token found by its hash.
type EnrollmentLookup struct {
	OrgID     string
	ID        string
	SiteID    string
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// SigningKey is a stored signing key (auth.Key.MarshalBinary) and when it
// was added.
type SigningKey struct {
	Key       []byte
	CreatedAt time.Time
}

// Role is what a principal may do within its organization.
type Role string

// Valid reports whether r is one of the roles above.
func (r Role) Valid() bool {
	switch r {
	case RoleOwner, RoleAdmin, RoleFacilityManager, RoleViewer, RoleTechnician:
		return true
	}
	return false
}

// ParseUserRole parses the role of a user as the API and CLI accept it:
// any role but technician, which belongs to API keys.
func ParseUserRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() || r == RoleTechnician {
		return "", pantry.Errorf(pantry.EINVALID, "unknown role %q: want owner, admin, facility_manager or viewer", s)
	}
	return r, nil
}

// Roles. Owner and admin act on the whole organization, a facility manager
// on the sites listed in their principal, a viewer only reads. Technician is
// the role of a technician's API key: it reads the organization's setup and
// enrolls edge nodes, and is never a person's login role.
const (
	RoleOwner           Role = "owner"
	RoleAdmin           Role = "admin"
	RoleFacilityManager Role = "facility_manager"
	RoleViewer          Role = "viewer"
	RoleTechnician      Role = "technician"
)
