package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
)

// Helpers of the administration tests: people with a role, signed in
// through the sign-in form, posting forms as a browser does.

// adminPerson adds a user with role (and sites, for a facility manager)
// through the API, as the organization's owner, and returns their id
// and email.
func adminPerson(tb testing.TB, s *cloudtest.Server, a cloudtest.Tenant, role string, sites ...string) (id, email string) {
	tb.Helper()
	email = strings.ReplaceAll(role, "_", "-") + "." + pantry.NewID()[:8] + "@example.test"
	if sites == nil {
		sites = []string{}
	}
	r := s.Do(tb, "POST", "/api/v1/users", a.Org.Token, map[string]any{"email": email, "name": "The " + role, "role": role,
		"site_ids": sites, "password": cloudtest.Password})
	if r.Status != http.StatusCreated {
		tb.Fatalf("create %s: %d %s", role, r.Status, r.Body)
	}
	var u struct{ ID string }
	r.Decode(tb, &u)
	return u.ID, email
}

// adminClient is a browser signed in as email.
func adminClient(tb testing.TB, s *cloudtest.Server, email string) *client {
	tb.Helper()
	c := newClient(tb, s)
	if p := c.signIn(tb, email, cloudtest.Password); p.Status != http.StatusSeeOther {
		tb.Fatalf("sign in as %s: %d\n%s", email, p.Status, p.Body)
	}
	return c
}

// adminPost opens from (a page with a form) for its CSRF token, then
// posts form to path, as submitting that form does.
func adminPost(tb testing.TB, c *client, from, path string, form url.Values) page {
	tb.Helper()
	p := c.get(tb, from)
	if p.Status != http.StatusOK {
		tb.Fatalf("GET %s: %d\n%s", from, p.Status, p.Body)
	}
	withToken := url.Values{"csrf": {csrf(tb, p)}}
	for k, v := range form {
		withToken[k] = v
	}
	return c.do(tb, "POST", path, withToken)
}

// adminFollow follows a redirect the way a browser does.
func adminFollow(tb testing.TB, c *client, p page) page {
	tb.Helper()
	if p.Status != http.StatusSeeOther {
		tb.Fatalf("got %d, want 303 (a form that was accepted)\n%s", p.Status, p.Body)
	}
	return c.get(tb, p.Header.Get("Location"))
}

var adminFieldErrorRE = regexp.MustCompile(`data-field-error="([^"]+)">([^<]*)<`)

// adminFieldErrors are the errors a page shows next to its fields, by
// field, as text.
func adminFieldErrors(p page) map[string]string {
	out := map[string]string{}
	for _, m := range adminFieldErrorRE.FindAllStringSubmatch(p.Body, -1) {
		out[m[1]] = html.UnescapeString(m[2])
	}
	return out
}

// adminWants checks a page's status and that it says each of says.
func adminWants(tb testing.TB, p page, status int, says ...string) {
	tb.Helper()
	if p.Status != status {
		tb.Fatalf("status %d, want %d\n%s", p.Status, status, p.Body)
	}
	for _, s := range says {
		if !strings.Contains(html.UnescapeString(p.Body), s) {
			tb.Fatalf("the page does not say %q:\n%s", s, p.Body)
		}
	}
}

// adminLacks checks a page shows none of lacks.
func adminLacks(tb testing.TB, p page, lacks ...string) {
	tb.Helper()
	for _, s := range lacks {
		if strings.Contains(p.Body, s) {
			tb.Fatalf("the page shows %q:\n%s", s, p.Body)
		}
	}
}

// adminRefusal is a form posted with bad input: the status it must get,
// and the error it must show next to field ("" for the form's own).
type adminRefusal struct {
	name   string
	from   string // the page with the form
	path   string
	form   url.Values
	status int
	field  string
	says   string
	kept   []string // values the form must show again
}

// adminCheckRefusals posts each refusal and checks the error is shown
// where it belongs, what was typed is kept, and nothing of the
// organization changed.
func adminCheckRefusals(t *testing.T, s *cloudtest.Server, orgID string, c *client, cases []adminRefusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := cloudtest.Fingerprint(t, s, orgID)
			p := adminPost(t, c, tc.from, tc.path, tc.form)
			if p.Status != tc.status {
				t.Fatalf("status %d, want %d\n%s", p.Status, tc.status, p.Body)
			}
			if tc.field == "" {
				if !strings.Contains(html.UnescapeString(p.Body), tc.says) {
					t.Fatalf("the page does not say %q:\n%s", tc.says, p.Body)
				}
			} else if got := adminFieldErrors(p)[tc.field]; !strings.Contains(got, tc.says) {
				t.Fatalf("error next to %s = %q, want it to say %q (all: %v)", tc.field, got, tc.says, adminFieldErrors(p))
			}
			for _, v := range tc.kept {
				if !strings.Contains(p.Body, html.EscapeString(v)) {
					t.Errorf("the form did not keep %q", v)
				}
			}
			if after := cloudtest.Fingerprint(t, s, orgID); after != before {
				t.Fatalf("a refused form changed data:\n before %s\n after  %s", before, after)
			}
		})
	}
}
