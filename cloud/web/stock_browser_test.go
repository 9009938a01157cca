package web_test

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/browsertest"
)

// TestBrowserStockAndReports: a facility admin, at phone and desktop
// sizes, opens Stock, sees the low item first, sets par levels through
// the form (a slip first: the form comes back with the error next to the
// item and what they typed), sees what to bring, opens the restock list,
// prints it (only the list prints) and downloads its CSV, records a
// delivery in the movements' form; then opens
// Reports, chooses days and a grouping, and sees the chart and the
// table.
func TestBrowserStockAndReports(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	for _, size := range []struct {
		name string
		v    browsertest.Viewport
	}{{"phone", browsertest.Phone}, {"desktop", browsertest.Tablet}} {
		t.Run(size.name, func(t *testing.T) {
			a := cloudtest.SeedTenant(t, s, "acme-"+size.name)
			tea := stockItem(t, s, a, a.Site, "Earl Grey tea", 5, 3)
			reportOrder(t, s, a, reportPlace{ID: a.Site, Space: a.Space}, 4, 350, "CC-acme-"+size.name, reportNow())
			b := browsertest.New(t, browsertest.Options{Viewport: size.v})
			downloads := t.TempDir()
			browsertest.Call(t, b, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
			browserSignIn(t, b, s, a.Org.OwnerEmail)

			b.Do(t, chromedp.Click(`nav a[href="/stock"]`))
			b.WaitFor(t, "the low tea first", fmt.Sprintf(`document.querySelector("table.stock tbody tr").dataset.itemId === %s`, browsertest.JSString(tea)))
			if got := b.Text(t, "table.stock tbody tr .stock-state"); got != "Low" {
				t.Errorf("the low item's state reads %q, want the word Low", got)
			}
			checkLayout(t, b, "stock-"+size.name)

			// Par levels, with a slip first.
			b.Do(t, chromedp.Click(`a[data-action=edit-par]`))
			b.WaitFor(t, "the par levels' form", `!!document.querySelector("form[data-form=par-levels]")`)
			checkLayout(t, b, "stock-par-"+size.name)
			b.Do(t, chromedp.SendKeys("#par-"+tea, "-3"), chromedp.SendKeys("#par-"+a.Item, "50"))
			if resp := b.RunResponse(t, "save with a slip", chromedp.Click(`form[data-form=par-levels] button[type=submit]`)); resp.Status != 400 {
				t.Fatalf("a negative par level: status %d, want 400", resp.Status)
			}
			if got := b.Text(t, fmt.Sprintf(`[data-field-error=%q]`, tea)); got != "A par level cannot be negative." {
				t.Errorf("the error next to the tea reads %q", got)
			}
			if got := browsertest.Eval[string](t, b, fmt.Sprintf(`document.getElementById(%s).value`, browsertest.JSString("par-"+a.Item))); got != "50" {
				t.Errorf("the coffee's par level typed was lost: %q", got)
			}
			checkLayout(t, b, "stock-par-refused-"+size.name)
			b.Do(t, chromedp.Clear("#par-"+tea), chromedp.SendKeys("#par-"+tea, "12"))
			b.RunResponse(t, "save", chromedp.Click(`form[data-form=par-levels] button[type=submit]`))
			b.WaitFor(t, "the stock page again", `location.pathname === "/stock"`)
			if got := b.Text(t, ".flash"); got != "Par levels saved: 2 changed." {
				t.Errorf("after saving, the page says %q", got)
			}
			b.WaitText(t, fmt.Sprintf(`tr[data-item-id=%q] [data-bring]`, tea), "9")
			b.WaitText(t, fmt.Sprintf(`tr[data-item-id=%q] [data-bring]`, a.Item), "10")

			// The restock list: on screen, in print, and as a file.
			b.Do(t, chromedp.Click(`.stock-links a[href$="/restock"]`))
			b.WaitFor(t, "the restock list", `document.querySelectorAll("[data-restock] tbody tr").length === 2`)
			b.WaitFor(t, "the Print button, which the script shows", `!document.querySelector("[data-print]").hidden`)
			checkLayout(t, b, "stock-restock-"+size.name)
			browsertest.Call(t, b, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
			if hidden := browsertest.Eval[bool](t, b, `getComputedStyle(document.querySelector("header.top")).display === "none" &&
				getComputedStyle(document.querySelector(".stock-links")).display === "none" &&
				getComputedStyle(document.querySelector("[data-restock]")).display !== "none"`); !hidden {
				t.Errorf("printed, the restock list still shows the navigation, or not the list")
			}
			b.Screenshot(t, "stock-restock-print-"+size.name)
			browsertest.Call(t, b, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""})
			b.Do(t, chromedp.Click(`a[data-action=restock-csv]`))
			records := waitDownload(t, downloads, "restock-")
			if len(records) != 3 || records[0][4] != "bring" {
				t.Fatalf("the downloaded restock list: %q", records)
			}

			// A delivery of tea arrives: recorded through the movements' form.
			b.Open(t, s.URL+"/stock/"+a.Site+"/movements")
			b.Do(t, chromedp.SetValue("#f-item", tea), chromedp.SetValue("#f-reason", "restock"), chromedp.SendKeys("#f-quantity", "9"))
			b.RunResponse(t, "record the delivery", chromedp.Click(`form[data-form=movement] button[type=submit]`))
			if got := b.Text(t, ".flash"); got != "Recorded a delivery of 9 × Earl Grey tea." {
				t.Errorf("after recording, the page says %q", got)
			}
			b.WaitFor(t, "the delivery in the history", `!!document.querySelector('tr[data-delta="9"][data-reason=restock]')`)
			checkLayout(t, b, "stock-movements-"+size.name)

			// Reports: choose the days and a grouping, see chart and table.
			b.Do(t, chromedp.Click(`nav a[href="/reports"]`))
			b.WaitFor(t, "the report form", `!!document.querySelector("form[data-form=report]")`)
			span := reportRange()
			b.Do(t, chromedp.SetValue("#f-from", span.Get("from")), chromedp.SetValue("#f-to", span.Get("to")),
				chromedp.SetValue("#f-group_by", "cost_center"))
			b.RunResponse(t, "show the report", chromedp.Click(`form[data-form=report] button[type=submit]`))
			b.WaitFor(t, "the chart and the table", `!!document.querySelector("svg[data-chart]") && !!document.querySelector("[data-report]")`)
			rows := browsertest.Eval[int](t, b, `document.querySelectorAll("[data-report] tbody tr").length`)
			bars := browsertest.Eval[int](t, b, `document.querySelectorAll("svg[data-chart] rect.bar").length`)
			if rows != 2 || bars != rows {
				t.Errorf("the report shows %d rows and %d bars, want 2 of each (the cost center, and the complimentary order)", rows, bars)
			}
			if w := browsertest.Eval[float64](t, b, `document.querySelector("svg[data-chart] rect.bar").getBoundingClientRect().width`); w < 10 {
				t.Errorf("the largest bar is %.1f px wide", w)
			}
			if got := b.Text(t, "[data-report] tfoot"); !strings.Contains(got, "EUR 21.00") {
				t.Errorf("the report's total reads %q, want EUR 21.00", got)
			}
			checkLayout(t, b, "reports-"+size.name)
			b.NoProblems(t, func(p browsertest.Problem) bool { return p.Kind == "network" && strings.Contains(p.Text, "400") })
		})
	}
}

// waitDownload waits for a CSV whose name starts with prefix to be saved
// in dir, and parses it.
func waitDownload(tb testing.TB, dir, prefix string) [][]string {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		matches, _ := filepath.Glob(filepath.Join(dir, prefix+"*.csv"))
		if len(matches) == 1 {
			raw, err := os.ReadFile(matches[0])
			if err == nil && len(raw) > 0 {
				records, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
				if err != nil {
					tb.Fatalf("parse %s: %v", matches[0], err)
				}
				return records
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, _ := os.ReadDir(dir)
	tb.Fatalf("no %s*.csv was downloaded; the folder holds %v", prefix, entries)
	return nil
}
