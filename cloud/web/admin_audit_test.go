package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
)

// TestAdminAudit: a change made in the dashboard appears in the audit
// log with who made it, what it was and when, and what changed field by
// field; a name holding markup shows as text; the filters narrow the
// log to one record, one person or some days.
func TestAdminAudit(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	owner := adminClient(t, s, a.Org.OwnerEmail)
	evil := `<script>alert("audit")</script>`
	p := adminPost(t, owner, "/admin/users/"+a.User, "/admin/users/"+a.User, url.Values{"name": {evil}, "role": {"viewer"}})
	adminFollow(t, owner, p)
	p = adminPost(t, owner, "/admin/users/"+a.User, "/admin/users/"+a.User, url.Values{"name": {"Bob"}, "role": {"admin"}})
	adminFollow(t, owner, p)

	log := owner.get(t, "/admin/audit?resource=user&resource_id="+a.User)
	adminWants(t, log, http.StatusOK, "User changed", "by <span data-who>"+a.Org.OwnerEmail, "User created")
	adminLacks(t, log, evil)
	entries := regexp.MustCompile(`(?s)<li data-audit-id=.*?</li>`).FindAllString(log.Body, -1)
	if len(entries) != 3 {
		t.Fatalf("%d entries for the user, want 3 (created, renamed, renamed and promoted)\n%s", len(entries), log.Body)
	}
	latest := entries[0]
	for _, want := range []string{
		`data-field="name" data-change="changed"`, "&lt;script&gt;alert(&#34;audit&#34;)&lt;/script&gt;", `data-label="After">Bob</td>`,
		`data-field="role" data-change="changed"`, `data-label="Before">viewer</td>`, `data-label="After">admin</td>`,
		"other fields unchanged",
	} {
		if !strings.Contains(latest, want) {
			t.Errorf("the latest entry lacks %s:\n%s", want, latest)
		}
	}
	if created := entries[2]; !strings.Contains(created, `data-field="email" data-change="added"`) || !strings.Contains(created, "by <span data-who>"+a.Org.OwnerEmail) {
		t.Errorf("the creation entry shows no added fields:\n%s", created)
	}

	t.Run("FilterByPerson", func(t *testing.T) {
		adminID, email := adminPerson(t, s, a, "admin")
		other := adminClient(t, s, email)
		adminFollow(t, other, adminPost(t, other, "/admin/api-keys", "/admin/api-keys", url.Values{"name": {"by the admin"}}))
		p := owner.get(t, "/admin/audit?actor_id="+a.Org.OwnerID)
		adminWants(t, p, http.StatusOK, "User changed", "User created")
		adminLacks(t, p, "<span data-who>"+email)
		mine := owner.get(t, "/admin/audit?actor_id="+adminID)
		if n := strings.Count(mine.Body, "<li data-audit-id="); n != 1 || !strings.Contains(mine.Body, "API key created</strong> by <span data-who>"+email) {
			t.Errorf("the admin's log: %d entries\n%s", n, mine.Body)
		}
	})
	t.Run("FilterByDays", func(t *testing.T) {
		today := time.Now().UTC().Format(time.DateOnly)
		if p := owner.get(t, "/admin/audit?from="+today+"&to="+today); strings.Count(p.Body, "<li data-audit-id=") < 3 {
			t.Errorf("today's log misses entries:\n%s", p.Body)
		}
		p := owner.get(t, "/admin/audit?to=2001-01-01")
		adminWants(t, p, http.StatusOK, "No entries match these filters.")
	})
	t.Run("BadFilters", func(t *testing.T) {
		for name, tc := range map[string]struct{ query, field, says string }{
			"NotADay":         {"from=yesterday", "from", "Write the day as YYYY-MM-DD"},
			"EndBeforeStart":  {"from=2026-02-01&to=2026-01-01", "to", "must not come before"},
			"HugeRecordID":    {"resource_id=" + strings.Repeat("x", 300), "resource_id", "resource_id"},
			"NotACursor":      {"cursor=nope", "", "cursor"},
			"ControlInFilter": {"resource=%07", "resource", "resource contains a control character"},
		} {
			t.Run(name, func(t *testing.T) {
				p := owner.get(t, "/admin/audit?"+tc.query)
				if p.Status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400\n%s", p.Status, p.Body)
				}
				if tc.field != "" && !strings.Contains(adminFieldErrors(p)[tc.field], tc.says) {
					t.Fatalf("error next to %s: %v, want %q", tc.field, adminFieldErrors(p), tc.says)
				}
				if tc.field == "" && !strings.Contains(p.Body, tc.says) {
					t.Fatalf("the page does not say %q:\n%s", tc.says, p.Body)
				}
			})
		}
	})
}
