package web_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/server"
	"github.com/pantry/pantry/internal/browsertest"
)

// TestBrowserSitesToPrintedCodes is the facility admin's first hour, in
// Chromium, at phone and desktop sizes: sign in, create a site (after a
// time zone the form refuses, next to its field), add two rooms on two
// floors and the menu through the forms (after a price it refuses), add
// a tablet and see its password once, make an enrollment token and copy
// its command; then download the site's QR PDF with the browser's
// session, decode every code in it, and check each points at its room's
// qr_url as the API reports it.
func TestBrowserSitesToPrintedCodes(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t, func(cfg *server.Config) { cfg.QRBaseURL = "https://pantry.acme.test" })
	for _, size := range []struct {
		name string
		v    browsertest.Viewport
	}{{"phone", browsertest.Phone}, {"desktop", browsertest.Tablet}} {
		t.Run(size.name, func(t *testing.T) {
			t.Parallel()
			org := s.NewOrg(t, "acme-"+size.name)
			a := cloudtest.Tenant{Org: org}
			siteItem(t, s, a, "Flat white", 350, "EUR")
			siteItem(t, s, a, "Still water", 150, "EUR")
			b := browsertest.New(t, browsertest.Options{Viewport: size.v})
			shot := func(page string) { checkLayout(t, b, "sites-"+page+"-"+size.name) }
			submit := func(what, form string, want int) {
				t.Helper()
				if resp := b.RunResponse(t, what, chromedp.Click(`form[data-form=`+form+`] button[type=submit]`)); resp.Status != int64(want) {
					t.Fatalf("%s: status %d, want %d", what, resp.Status, want)
				}
			}

			browserSignIn(t, b, s, org.OwnerEmail)
			b.RunResponse(t, "open the sites", chromedp.Click(`nav a[href="/sites"]`))
			b.WaitFor(t, "the empty list", `!!document.querySelector(".empty a[href='/sites/new']")`)
			shot("empty")

			b.RunResponse(t, "new site", chromedp.Click(`[data-action=new-site]`))
			b.Do(t,
				chromedp.SendKeys(`#site-name`, "Amsterdam HQ"),
				chromedp.Clear(`#site-timezone`),
				chromedp.SendKeys(`#site-timezone`, "Mars/Base"),
			)
			submit("create a site on Mars", "site", http.StatusBadRequest)
			if got := b.Text(t, `[data-field-error=timezone]`); !strings.Contains(got, `"Mars/Base" is not an IANA time zone name`) {
				t.Fatalf("the time zone's error says %q", got)
			}
			if got := browsertest.Eval[string](t, b, `document.querySelector("#site-name").value`); got != "Amsterdam HQ" {
				t.Errorf("the refused form kept the name %q", got)
			}
			shot("new-refused")
			b.Do(t, chromedp.Clear(`#site-timezone`), chromedp.SendKeys(`#site-timezone`, "Europe/Amsterdam"))
			submit("create the site", "site", http.StatusOK)
			b.WaitText(t, ".flash", "Site Amsterdam HQ created. Add its rooms, then its menu.")
			sitePath := b.Path(t)

			for _, r := range []struct{ name, floor string }{{"Oslo", "2"}, {"Lisboa", "3"}} {
				b.Do(t, chromedp.SendKeys(`#room-name`, r.name), chromedp.SendKeys(`#room-floor`, r.floor))
				submit("add room "+r.name, "room", http.StatusOK)
				b.WaitText(t, ".flash", "Room "+r.name+" added. Print its QR code from the links above the rooms.")
			}

			b.RunResponse(t, "open the menu", chromedp.Click(`a[href="`+sitePath+`/menu"]`))
			b.WaitFor(t, "the menu form", `document.querySelectorAll("form[data-form=menu] tbody tr").length === 2`)
			b.Do(t, chromedp.Click(`input[name=on]`, chromedp.NodeVisible)) // Flat white, first by name
			b.Do(t, chromedp.Click(`tbody tr:nth-child(2) input[name=on]`), chromedp.SendKeys(`tbody tr:nth-child(2) input[type=text]`, "1,2O"))
			submit("save the menu with a typo", "menu", http.StatusBadRequest)
			if got := b.Text(t, `tbody tr:nth-child(2) [data-field-error]`); !strings.Contains(got, "price must be a number like 3.50") {
				t.Errorf("the water's row says %q", got)
			}
			if n := browsertest.Eval[int](t, b, `document.querySelectorAll("input[name=on]:checked").length`); n != 2 {
				t.Errorf("the refused menu kept %d items ticked, want 2", n)
			}
			shot("menu-refused")
			b.Do(t, chromedp.Clear(`tbody tr:nth-child(2) input[type=text]`), chromedp.SendKeys(`tbody tr:nth-child(2) input[type=text]`, "1,20"))
			submit("save the menu", "menu", http.StatusOK)
			b.WaitText(t, ".flash", "Menu saved: 2 items, 2 available now.")
			if got := browsertest.Eval[string](t, b, `document.querySelector("tbody tr:nth-child(2) input[type=text]").value`); got != "1.20" {
				t.Errorf("the water's price here shows %q after saving, want 1.20", got)
			}
			shot("menu")

			b.RunResponse(t, "back to the site", chromedp.Click(`.site-crumbs a[href="`+sitePath+`"]`))
			b.Do(t, chromedp.SendKeys(`#tablet-name`, "Pantry counter"))
			submit("add a tablet", "tablet", http.StatusCreated)
			if pw := b.Text(t, `[data-secret]`); len(pw) < 16 {
				t.Fatalf("the tablet's password shows as %q", pw)
			}
			shot("tablet-password")
			b.RunResponse(t, "done", chromedp.Click(`a.site-action.primary`))
			if n := browsertest.Eval[int](t, b, `document.querySelectorAll("[data-secret]").length`); n != 0 {
				t.Errorf("the site's page shows %d secrets after the tablet was added", n)
			}

			submit("make an enrollment token", "enroll", http.StatusCreated)
			if cmd := b.Text(t, `[data-command]`); !strings.HasPrefix(cmd, "pantry edge init --cloud "+s.URL+" --token ") {
				t.Errorf("the command shown is %q", cmd)
			}
			shot("enroll")
			b.Do(t, chromedp.Click(`button[data-copy=enroll-command]`, chromedp.NodeVisible))
			b.WaitText(t, `button[data-copy=enroll-command]`, "Copied")
			b.RunResponse(t, "done", chromedp.Click(`a.site-action.primary`))
			b.WaitFor(t, "the two floors' print links", `document.querySelectorAll("[data-qr-links] [data-floor]").length === 2`)
			shot("site")

			pdf := browserDownload(t, b, sitePath+"/qr.pdf?paper=a4")
			want := map[string]string{}
			for _, r := range siteAPISpaces(t, s, a, strings.TrimPrefix(sitePath, "/sites/")) {
				want[r.QRURL] = r.Name
			}
			if len(want) != 2 {
				t.Fatalf("the API lists rooms %v, want 2", want)
			}
			siteCodes(t, pdf, want)

			b.RunResponse(t, "open a room", chromedp.Click(`[data-room-id] a[href*="/rooms/"]`))
			b.WaitFor(t, "the room's code", `(document.querySelector(".site-qr img") || {}).naturalWidth > 0`)
			if got := b.Text(t, "[data-qr-url]"); want[got] == "" {
				t.Errorf("the room's page says its code opens %s, no room's qr_url", got)
			}
			shot("room")
			b.RunResponse(t, "back to the sites", chromedp.Click(`nav a[href="/sites"]`))
			b.WaitFor(t, "the site's row", `document.querySelector("[data-site-id] [data-rooms]").textContent === "2"`)
			shot("list")
			// The failed requests were the forms refused on purpose.
			b.NoProblems(t, func(p browsertest.Problem) bool {
				return strings.Contains(p.Text, "400 (Bad Request)") && (strings.HasSuffix(p.URL, "/sites") || strings.HasSuffix(p.URL, "/menu"))
			})
		})
	}
}

// browserDownload gets path with the browser's own session cookie, as
// the page's link would, and returns the body of a 200 PDF.
func browserDownload(tb testing.TB, b *browsertest.Browser, path string) []byte {
	tb.Helper()
	href := browsertest.Eval[string](tb, b, fmt.Sprintf(`document.querySelector('a[href=%s]').href`, browsertest.JSString(path)))
	got := browsertest.Call(tb, b, network.GetCookies, network.GetCookiesParams{URLs: []string{href}})
	req, err := http.NewRequest("GET", href, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range got.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", href, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" {
		tb.Fatalf("GET %s with the browser's cookie: %d %s", href, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return body
}
