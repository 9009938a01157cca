package cloud

import (
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// Single sign-on: an organization lets its people sign in to the dashboard
// through its own OpenID Connect identity provider. cloud/sso runs the
// protocol; SSOService (service.go) stores what it needs. The types below
// are the configuration admins edit, the state of a sign-in in progress,
// and the user a sign-in finds or creates.

// Limits on an SSO configuration: generous for any real identity
// provider, small enough that one row stays a few kilobytes.
const (
	MaxSSODomains     = 100
	MaxSSORoleMapping = 200
	maxSSOURL         = 2048
	maxSSOClientID    = 255
	maxSSOSecret      = 1024
	maxSSOClaimName   = 100
	maxSSOClaimValue  = 256
)

// SSOConfig is an organization's single sign-on setup as admins read it.
// The client secret is never part of it: ClientSecretSet says whether one
// is stored.
type SSOConfig struct {
	Issuer          string `json:"issuer"`
	ClientID        string `json:"client_id"`
	ClientSecretSet bool   `json:"client_secret_set"`
	// AllowedDomains are the email domains (lower case, exact) whose
	// people may sign in.
	AllowedDomains []string `json:"allowed_domains"`
	// RoleClaim names the ID-token claim (a string or a list of strings,
	// e.g. "groups") whose values RoleMap maps to roles; "" maps nothing.
	RoleClaim string          `json:"role_claim"`
	RoleMap   map[string]Role `json:"role_map"`
	// DefaultRole is the role of a user created by a sign-in that no
	// mapping matched; "" refuses such sign-ins.
	DefaultRole Role      `json:"default_role"`
	Enabled     bool      `json:"enabled"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// SSOConfigInput replaces an organization's SSO configuration.
type SSOConfigInput struct {
	Issuer   string
	ClientID string
	// ClientSecret replaces the stored secret; nil keeps it (the first
	// configuration must give one).
	ClientSecret   *string
	AllowedDomains []string
	RoleClaim      string
	RoleMap        map[string]Role
	DefaultRole    Role
	Enabled        bool
}

// SSOProvider is what a sign-in needs to talk to an organization's
// identity provider, client secret included: for cloud/sso only, never
// shown (the secret has no JSON name).
type SSOProvider struct {
	OrgID, OrgName string
	SSOConfig
	ClientSecret string `json:"-"`
}

// SSOState is one sign-in in progress: what the callback needs to finish
// it. The browser holds the state; the store keeps only its hash, with the
// PKCE verifier and the nonce that only the cloud may know.
type SSOState struct {
	OrgID       string
	StateHash   []byte
	Verifier    string // PKCE code verifier (RFC 7636)
	Nonce       string // the nonce the ID token must carry
	RedirectURL string // the redirect_uri the authorization request named
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// SSOUserInput is the person a verified sign-in names.
type SSOUserInput struct {
	Email, Name string
	// Role is the role the sign-in maps to (a matched mapping) or the
	// default role. A new user gets it; an existing one gets it only if
	// Mapped, and never loses owner (SSO does not manage owners).
	Role   Role
	Mapped bool
	// Issuer and Subject name the person at the identity provider, for the
	// audit log.
	Issuer, Subject string
}

// SSOUser is the user a sign-in found or created.
type SSOUser struct {
	User        User
	Created     bool // just in time, by this sign-in
	RoleChanged bool // an existing user's role followed the mapping
}

// SSOActor is who the audit log says made the changes a sign-in makes
// (a user created just in time, a role that follows the mapping).
var SSOActor = Actor{Type: "system", ID: "sso"}

// ssoRoles are the roles single sign-on may grant: an owner is named in
// Pantry, by an owner, never by an identity provider's group.
var ssoRoles = []Role{RoleAdmin, RoleFacilityManager, RoleViewer}

// SSORoleRank orders the roles SSO grants, most privileged first: a
// sign-in whose claim values map to several roles gets the first. -1 for
// any other role.
func SSORoleRank(r Role) int { return slices.Index(ssoRoles, r) }

// Normalize checks an SSO configuration and returns it as the store keeps
// it: trimmed, domains lower-cased and deduplicated. Every refusal is
// EINVALID with the field named.
func (in SSOConfigInput) Normalize() (SSOConfigInput, error) {
	out := in
	out.Issuer, out.ClientID, out.RoleClaim = strings.TrimSpace(in.Issuer), strings.TrimSpace(in.ClientID), strings.TrimSpace(in.RoleClaim)
	if err := checkIssuer(out.Issuer); err != nil {
		return in, err
	}
	if out.ClientID == "" {
		return in, pantry.Errorf(pantry.EINVALID, "client id is required: the identity provider shows it for the application registered for Pantry")
	}
	if err := checkToken("client id", out.ClientID, maxSSOClientID); err != nil {
		return in, err
	}
	if in.ClientSecret != nil {
		if *in.ClientSecret == "" {
			return in, pantry.Errorf(pantry.EINVALID, "client secret must not be empty (leave it out to keep the stored one)")
		}
		if err := checkToken("client secret", *in.ClientSecret, maxSSOSecret); err != nil {
			return in, err
		}
	}
	var err error
	if out.AllowedDomains, err = normalizeDomains(in.AllowedDomains); err != nil {
		return in, err
	}
	if err := checkRoleMapping(out.RoleClaim, in.RoleMap, in.DefaultRole); err != nil {
		return in, err
	}
	out.RoleMap = maps.Clone(in.RoleMap)
	if out.RoleMap == nil {
		out.RoleMap = map[string]Role{}
	}
	return out, nil
}

// checkIssuer accepts an https URL, or http on a loopback host (a
// provider on the same machine, as in tests), with no query, fragment or
// credentials: OpenID discovery appends /.well-known/openid-configuration
// to it, and the ID token's iss must equal it exactly.
func checkIssuer(issuer string) error {
	if issuer == "" {
		return pantry.Errorf(pantry.EINVALID, "issuer URL is required (e.g. https://login.example.com)")
	}
	if len(issuer) > maxSSOURL {
		return pantry.Errorf(pantry.EINVALID, "issuer URL is longer than %d bytes", maxSSOURL)
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return pantry.Errorf(pantry.EINVALID, "issuer %q is not an absolute URL", issuer)
	}
	switch {
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(issuer, "?") || strings.HasSuffix(issuer, "#"):
		return pantry.Errorf(pantry.EINVALID, "issuer %q must not carry credentials, a query or a fragment", issuer)
	case u.Scheme == "https":
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
	default:
		return pantry.Errorf(pantry.EINVALID, "issuer %q must be an https URL", issuer)
	}
	return nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkToken accepts printable ASCII without spaces, as client ids and
// secrets are.
func checkToken(field, s string, max int) error {
	if len(s) > max {
		return pantry.Errorf(pantry.EINVALID, "%s is longer than %d bytes", field, max)
	}
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return pantry.Errorf(pantry.EINVALID, "%s must be printable ASCII without spaces", field)
		}
	}
	return nil
}

// normalizeDomains lower-cases, trims (a leading "@" too) and
// deduplicates email domains, and refuses anything that is not a DNS
// name with at least one dot.
func normalizeDomains(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, pantry.Errorf(pantry.EINVALID, "allowed domains: name at least one email domain (e.g. example.com)")
	}
	if len(in) > MaxSSODomains {
		return nil, pantry.Errorf(pantry.EINVALID, "allowed domains: at most %d, not %d", MaxSSODomains, len(in))
	}
	out := make([]string, 0, len(in))
	for _, d := range in {
		d = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "@")
		if !validDomain(d) {
			return nil, pantry.Errorf(pantry.EINVALID, "allowed domains: %q is not a domain name like example.com", d)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out, nil
}

func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// checkRoleMapping checks the claim name, the mapping and the default
// role together: a mapping needs a claim, every role must be one SSO may
// grant, and some sign-in must be able to succeed.
func checkRoleMapping(claim string, m map[string]Role, def Role) error {
	if err := checkToken("role claim", claim, maxSSOClaimName); err != nil {
		return err
	}
	if len(m) > MaxSSORoleMapping {
		return pantry.Errorf(pantry.EINVALID, "role mapping: at most %d values, not %d", MaxSSORoleMapping, len(m))
	}
	if len(m) > 0 && claim == "" {
		return pantry.Errorf(pantry.EINVALID, "role mapping: name the ID-token claim it reads (e.g. groups)")
	}
	for v, r := range m {
		if v == "" || len(v) > maxSSOClaimValue || pantry.CheckText("claim value", v, maxSSOClaimValue) != nil {
			return pantry.Errorf(pantry.EINVALID, "role mapping: claim value %q must be 1 to %d printable characters", v, maxSSOClaimValue)
		}
		if SSORoleRank(r) < 0 {
			return pantry.Errorf(pantry.EINVALID, "role mapping: %q maps to %q; single sign-on grants admin, facility_manager or viewer", v, r)
		}
	}
	if def != "" && SSORoleRank(def) < 0 {
		return pantry.Errorf(pantry.EINVALID, "default role %q: single sign-on grants admin, facility_manager or viewer (or no default, to refuse)", def)
	}
	if len(m) == 0 && def == "" {
		return pantry.Errorf(pantry.EINVALID, "with no role mapping and no default role nobody could sign in: set one of them")
	}
	return nil
}
