package web_test

import (
	"bytes"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/qrsheet/qrsheettest"
	"github.com/pantry/pantry/cloud/server"
)

// The QR sheets and PNGs, read back as a phone would: rendered by
// poppler and decoded by gozxing (cloud/qrsheet/qrsheettest).

// TestSitesQRFiles: the site's sheets and a room's PNG are what they say
// they are, cache by content, and every code in them scans to its room's
// qr_url as the API reports it: archived rooms left out, one floor when
// asked, a new code after rotating.
func TestSitesQRFiles(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t, func(cfg *server.Config) { cfg.QRBaseURL = "https://pantry.acme.test" })
	a := cloudtest.SeedTenant(t, s, "acme")
	c := siteClient(t, s, a.Org.OwnerEmail)
	site := "/sites/" + a.Site
	siteRedirect(t, sitePost(t, c, site+"/rooms", url.Values{"name": {"Oslo"}, "floor": {"2"}}), site)
	siteRedirect(t, sitePost(t, c, site+"/rooms", url.Values{"name": {"Old room"}, "floor": {"2"}}), site)
	rooms := siteAPISpaces(t, s, a, a.Site)
	old := rooms[slices.IndexFunc(rooms, func(r siteAPISpace) bool { return r.Name == "Old room" })]
	siteRedirect(t, sitePost(t, c, site+"/rooms/"+old.ID, url.Values{"archived": {"true"}}), site)
	want := map[string]string{} // room name by qr_url, of the rooms in use
	for _, r := range rooms {
		if r.ID != old.ID {
			want[r.QRURL] = r.Name
		}
	}

	pdf := c.get(t, site+"/qr.pdf?paper=a4")
	if pdf.Status != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.Body, "%PDF-") {
		t.Fatalf("GET qr.pdf: %d %s", pdf.Status, pdf.Header.Get("Content-Type"))
	}
	if got := pdf.Header.Get("Content-Disposition"); got != `attachment; filename="qr-secret-acme-hq-a4.pdf"` {
		t.Errorf("Content-Disposition %q", got)
	}
	siteCodes(t, []byte(pdf.Body), want)
	if info := qrsheettest.Run(t, "pdfinfo", siteTemp(t, pdf.Body)); !strings.Contains(info, "(A4)") {
		t.Errorf("pdfinfo says:\n%s", info)
	}

	etag := pdf.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Fatalf("ETag %q", etag)
	}
	req, _ := http.NewRequest("GET", s.URL+site+"/qr.pdf?paper=a4", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET with If-None-Match of the same PDF: %d, want 304", resp.StatusCode)
	}

	letter := c.get(t, site+"/qr.pdf?paper=letter")
	if letter.Header.Get("ETag") == etag || !strings.Contains(qrsheettest.Run(t, "pdfinfo", siteTemp(t, letter.Body)), "(letter)") {
		t.Errorf("the Letter PDF has the A4's ETag or is not Letter")
	}
	floor3 := c.get(t, site+"/qr.pdf?paper=letter&floor=3")
	siteCodes(t, []byte(floor3.Body), map[string]string{rooms[slices.IndexFunc(rooms, func(r siteAPISpace) bool { return r.ID == a.Space })].QRURL: a.Names[0] + " room"})
	if got := floor3.Header.Get("Content-Disposition"); !strings.Contains(got, `qr-secret-acme-hq-floor-3-letter.pdf`) {
		t.Errorf("one floor's Content-Disposition %q", got)
	}
	for path, status := range map[string]int{site + "/qr.pdf?paper=legal": 400, site + "/qr.pdf?floor=99": 404, site + "/qr.svg?floor=99": 404} {
		if p := c.get(t, path); p.Status != status || !strings.Contains(p.Body, "data-error") {
			t.Errorf("GET %s: %d, want %d with an error page", path, p.Status, status)
		}
	}

	svg := c.get(t, site+"/qr.svg")
	if svg.Status != http.StatusOK || svg.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg.Body, ">Oslo</text>") || strings.Contains(svg.Body, "Old room") {
		t.Errorf("GET qr.svg: %d %s, want the rooms in use\n%s", svg.Status, svg.Header.Get("Content-Type"), svg.Body)
	}

	oslo := rooms[slices.IndexFunc(rooms, func(r siteAPISpace) bool { return r.Name == "Oslo" })]
	pngPath := site + "/rooms/" + oslo.ID + "/qr.png"
	first := c.get(t, pngPath)
	if first.Header.Get("Content-Type") != "image/png" || sitePNG(t, first.Body) != oslo.QRURL {
		t.Fatalf("the PNG (%s) does not scan to %s", first.Header.Get("Content-Type"), oslo.QRURL)
	}
	siteRedirect(t, sitePost(t, c, site+"/rooms/"+oslo.ID+"/rotate", url.Values{"confirm": {"yes"}}), site)
	again := c.get(t, pngPath)
	rotated := siteAPISpaces(t, s, a, a.Site)
	now := rotated[slices.IndexFunc(rotated, func(r siteAPISpace) bool { return r.ID == oslo.ID })].QRURL
	if got := sitePNG(t, again.Body); got != now || got == oslo.QRURL || again.Header.Get("ETag") == first.Header.Get("ETag") {
		t.Errorf("after rotating, the PNG scans to %s (ETag %s), want the new %s", got, again.Header.Get("ETag"), now)
	}
}

// siteCodes decodes every code of a PDF and checks they are want's URLs,
// each once.
func siteCodes(tb testing.TB, pdf []byte, want map[string]string) {
	tb.Helper()
	seen := map[string]int{}
	for i, codes := range qrsheettest.DecodePDF(tb, pdf, 150) {
		for _, c := range codes {
			if _, ok := want[c.Text]; !ok {
				tb.Errorf("page %d: a code scans to %q, no room's qr_url", i+1, c.Text)
			}
			seen[c.Text]++
		}
	}
	for u, name := range want {
		if seen[u] != 1 {
			tb.Errorf("%s: its code (%s) scanned %d times, want once", name, u, seen[u])
		}
	}
}

// sitePNG is what a PNG's one code says.
func sitePNG(tb testing.TB, body string) string {
	tb.Helper()
	img, err := png.Decode(bytes.NewReader([]byte(body)))
	if err != nil {
		tb.Fatalf("not a PNG: %v", err)
	}
	codes := qrsheettest.Decode(tb, qrsheettest.GreyOf(img))
	if len(codes) != 1 {
		tb.Fatalf("the PNG holds %d codes, want 1", len(codes))
	}
	return codes[0].Text
}

// siteTemp writes body to a file for poppler's commands.
func siteTemp(tb testing.TB, body string) string {
	tb.Helper()
	path := tb.TempDir() + "/sheet.pdf"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}
