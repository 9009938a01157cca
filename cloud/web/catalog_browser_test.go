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

// catalogPriceJS is the price the catalog's list shows for the item
// named name ("" if the list has no such item).
func catalogPriceJS(name string) string {
	return fmt.Sprintf(`(() => {
		const a = [...document.querySelectorAll("[data-item-name]")].find(a => a.textContent === %s);
		return a ? a.closest("tr").querySelector("[data-price]").textContent.trim() : "";
	})()`, browsertest.JSString(name))
}

// TestBrowserCatalog: an owner opens the catalog from the navigation,
// sends the new item form empty and is told what is missing next to the
// field, fills it in (a price, an allergen ticked, a station), sees the
// item in the list, opens it, changes its price and sees the new price;
// then looks at the coupons and cost centers. At phone and desktop sizes,
// every page passes the layout checks.
func TestBrowserCatalog(t *testing.T) {
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
			name := "Oat latte " + size.name

			b.Do(t, chromedp.Click(`nav a[href="/catalog"]`))
			b.WaitFor(t, "the catalog", `location.pathname === "/catalog" && !!document.querySelector("[data-item-id]")`)
			checkLayout(t, b, "catalog-items-"+size.name)

			b.Do(t, chromedp.Click(`[data-action=new-item]`))
			b.WaitFor(t, "the new item form", `!!document.querySelector("form[data-form=item]")`)
			if got := b.Text(t, "#f-currency-hint"); !strings.Contains(got, "EUR") {
				t.Errorf("the currency hint says %q, want the sites' EUR", got)
			}
			checkLayout(t, b, "catalog-new-item-"+size.name)

			if resp := b.RunResponse(t, "send the empty form", chromedp.Click(`form[data-form=item] button[type=submit]`)); resp.Status != http.StatusBadRequest {
				t.Fatalf("the empty form: status %d, want 400", resp.Status)
			}
			if got := b.Text(t, `[data-field-error=name]`); got != "Name is required" {
				t.Errorf("next to the name: %q", got)
			}
			checkLayout(t, b, "catalog-new-item-refused-"+size.name)

			b.Do(t,
				chromedp.SendKeys(`#f-name`, name),
				chromedp.SendKeys(`#f-price`, "3.80"),
				chromedp.SendKeys(`#f-station`, "drinks"),
				chromedp.Click(`input[name=allergens][value=milk]`),
			)
			if resp := b.RunResponse(t, "add the item", chromedp.Click(`form[data-form=item] button[type=submit]`)); resp.Status != http.StatusOK {
				t.Fatalf("add the item: status %d", resp.Status)
			}
			b.WaitFor(t, "the new item in the list at 3.80", catalogPriceJS(name)+` === "EUR 3.80"`)
			if got := b.Text(t, ".flash"); got != "Added "+name+" at EUR 3.80." {
				t.Errorf("the message after adding: %q", got)
			}

			b.Do(t, chromedp.Click(chromedp.Search(fmt.Sprintf(`//a[@data-item-name][text()=%q]`, name))))
			b.WaitFor(t, "the item's page", fmt.Sprintf(`document.querySelector("h1").textContent === %s`, browsertest.JSString(name)))
			if !browsertest.Eval[bool](t, b, `document.querySelector("input[name=allergens][value=milk]").checked`) {
				t.Errorf("the item's page does not show milk ticked")
			}
			checkLayout(t, b, "catalog-item-"+size.name)
			b.Do(t, chromedp.Clear(`#f-price`), chromedp.SendKeys(`#f-price`, "4.10"))
			if resp := b.RunResponse(t, "save the new price", chromedp.Click(`form[data-form=item] button[type=submit]`)); resp.Status != http.StatusOK {
				t.Fatalf("save the new price: status %d", resp.Status)
			}
			b.WaitFor(t, "the new price in the list", catalogPriceJS(name)+` === "EUR 4.10"`)
			checkLayout(t, b, "catalog-items-edited-"+size.name)

			b.Do(t, chromedp.Click(`.catalog-nav a[href="/catalog/coupons"]`))
			b.WaitFor(t, "the coupons", `!!document.querySelector("[data-coupon-id]")`)
			checkLayout(t, b, "catalog-coupons-"+size.name)
			b.Do(t, chromedp.Click(`[data-action=new-coupon]`))
			b.WaitFor(t, "the new coupon form", `!!document.querySelector("form[data-form=coupon]")`)
			checkLayout(t, b, "catalog-new-coupon-"+size.name)
			b.Open(t, s.URL+"/catalog/cost-centers")
			b.WaitFor(t, "the cost centers", `!!document.querySelector("[data-cost-center-id]")`)
			checkLayout(t, b, "catalog-cost-centers-"+size.name)
			// The refused form's 400, which the browser reports, is the one
			// problem the flow causes on purpose.
			b.NoProblems(t, func(p browsertest.Problem) bool {
				return strings.Contains(p.Text, "status of 400") && strings.HasSuffix(p.URL, "/catalog/items")
			})
		})
	}
}
