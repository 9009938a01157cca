package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/browsertest"
)

// TestBrowserAdmin: an owner administers their organization through the
// forms, as a person does, at phone and desktop sizes: adds a facility
// manager for a site (the password Pantry makes is shown once), disables
// the account; creates an API key (shown once), revokes it after the
// confirmation; reads the audit log of those changes; inspects a dead
// letter and is told why it still cannot be applied.
func TestBrowserAdmin(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	for _, size := range []struct {
		name string
		v    browsertest.Viewport
	}{{"phone", browsertest.Phone}, {"desktop", browsertest.Tablet}} {
		t.Run(size.name, func(t *testing.T) {
			b := browsertest.New(t, browsertest.Options{Viewport: size.v})
			browserSignIn(t, b, s, a.Org.OwnerEmail)
			click := func(what, sel, until string) {
				t.Helper()
				b.RunResponse(t, what, chromedp.Click(sel))
				b.WaitFor(t, what, until)
			}
			click("the administration", `nav a[href="/admin"]`, `!!document.querySelector("[data-admin-section]")`)
			checkLayout(t, b, "admin-index-"+size.name)

			// A facility manager for the site, without a password.
			email := "fran-" + size.name + "@acme.test"
			click("the users", `[data-admin-section="/admin/users"]`, `!!document.querySelector("[data-action=add-user]")`)
			click("the new user form", `[data-action=add-user]`, `!!document.querySelector("form[data-user-form]")`)
			b.Do(t,
				chromedp.SendKeys(`#f-email`, email),
				chromedp.SendKeys(`#f-name`, "Fran "+size.name),
				chromedp.Click(`input[name=role][value=facility_manager]`),
				chromedp.Click(fmt.Sprintf(`input[name=site_ids][value=%q]`, a.Site)),
			)
			checkLayout(t, b, "admin-user-new-"+size.name)
			click("add the user", `form[data-user-form] button[type=submit]`, `!!document.querySelector("[data-once] [data-secret]")`)
			if got := b.Text(t, "[data-once]"); !strings.Contains(got, "Initial password for "+email) || !strings.Contains(got, "shown only this once") {
				t.Errorf("the one-time password box says %q", got)
			}
			if got := b.Text(t, `table`); !strings.Contains(got, email) || !strings.Contains(got, a.Names[0]+" HQ") {
				t.Errorf("the users table shows %q", got)
			}
			checkLayout(t, b, "admin-users-"+size.name)
			click("the new user", fmt.Sprintf(`tr[data-email=%q] a`, email), `!!document.querySelector("[data-action=disable]")`)
			checkLayout(t, b, "admin-user-"+size.name)
			click("disable", `[data-action=disable]`, `!!document.querySelector('[data-user-status="disabled"]')`)

			// An API key, shown once, revoked after the confirmation.
			click("the administration", `.admin-crumbs a[href="/admin"]`, `!!document.querySelector("[data-admin-section]")`)
			click("the API keys", `[data-admin-section="/admin/api-keys"]`, `!!document.querySelector("form[data-key-form]")`)
			b.Do(t, chromedp.SendKeys(`#f-name`, "Installer <"+size.name+">"))
			click("create the key", `form[data-key-form] button[type=submit]`, `!!document.querySelector("[data-once] [data-secret]")`)
			key := b.Text(t, "[data-secret]")
			if r := s.Do(t, "GET", "/api/v1/sites", key, nil); r.Status != http.StatusOK {
				t.Fatalf("the key shown does not work: %d", r.Status)
			}
			checkLayout(t, b, "admin-keys-"+size.name)
			click("revoke…", `[data-revoked=false] [data-action=revoke]`, `!!document.querySelector("[data-action=confirm-revoke]")`)
			checkLayout(t, b, "admin-key-revoke-"+size.name)
			click("confirm", `[data-action=confirm-revoke]`, `!!document.querySelector(".flash")`)
			if got := b.Text(t, ".flash"); !strings.Contains(got, "revoked: it no longer works") {
				t.Errorf("after revoking: %q", got)
			}

			// The audit log of it all.
			click("the administration", `.admin-crumbs a[href="/admin"]`, `!!document.querySelector("[data-admin-section]")`)
			click("the audit log", `[data-admin-section="/admin/audit"]`, `!!document.querySelector("[data-audit]")`)
			b.WaitFor(t, "the revocation's diff", `!!document.querySelector('[data-action="api_key.revoke"] [data-field="revoked_at"][data-change="changed"]')`)
			b.WaitFor(t, "the disabling's diff", `!!document.querySelector('[data-action="user.update"] [data-field="disabled"][data-change="changed"]')`)
			checkLayout(t, b, "admin-audit-"+size.name)

			// A dead letter that stays dead.
			click("the administration", `.admin-crumbs a[href="/admin"]`, `!!document.querySelector("[data-admin-section]")`)
			click("the dead letters", `[data-admin-section="/admin/dead-letters"]`, `!!document.querySelector("[data-dead-letter-id]")`)
			checkLayout(t, b, "admin-dead-letters-"+size.name)
			click("the dead letter", fmt.Sprintf(`[data-dead-letter-id=%q] a`, a.DeadLetter), `!!document.querySelector("[data-payload]")`)
			if got := b.Text(t, "[data-payload]"); !strings.Contains(got, `"poison": true`) {
				t.Errorf("the payload reads %q", got)
			}
			checkLayout(t, b, "admin-dead-letter-"+size.name)
			click("apply it again", `[data-action=reapply]`, `!!document.querySelector("[data-reapply-error]")`)
			if got := b.Text(t, "[data-reapply-error]"); !strings.Contains(got, "still cannot be applied") {
				t.Errorf("the refusal says %q", got)
			}
			checkLayout(t, b, "admin-dead-letter-refused-"+size.name)
			b.NoProblems(t, refusedStatus(http.StatusConflict))
		})
	}
}

// refusedStatus matches the console's note of a page answered with
// status: a form refused, shown as the page.
func refusedStatus(status int) func(browsertest.Problem) bool {
	return func(p browsertest.Problem) bool {
		return p.Kind == "network" && strings.Contains(p.Text, fmt.Sprintf("status of %d", status))
	}
}
