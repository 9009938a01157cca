package qrsheet_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/pantry/pantry/cloud/qrsheet"
	"github.com/pantry/pantry/cloud/qrsheet/qrsheettest"
	"github.com/pantry/pantry/internal/browsertest"
)

// site is 13 rooms over three floors, given out of order: seven on floor
// 2 (two pages of six), four on floor 10 (which sorts after 2) and two on
// the mezzanine. Names need more than Windows-1252 and XML escaping; URLs
// vary in length, so the codes are of several sizes (versions).
func site() qrsheet.Sheet {
	rooms := []qrsheet.Room{
		{Name: "Zürich", Floor: "10"},
		{Name: "Café Ø", Floor: "2"},
		{Name: "<script>", Floor: "2"},
		{Name: "A & B", Floor: "2"},
		{Name: "Room 10", Floor: "2"},
		{Name: "Room 9", Floor: "2"},
		{Name: "Переговорная", Floor: "2"},
		{Name: "Kraków", Floor: "2"},
		{Name: "Boardroom", Floor: "Mezzanine"},
		{Name: "Oslo", Floor: "10"},
		{Name: "Lisboa", Floor: "10"},
		{Name: "Tromsø", Floor: "10"},
		{Name: "Library", Floor: "Mezzanine"},
	}
	for i := range rooms {
		rooms[i].URL = fmt.Sprintf("https://pantry.example.com/q/%02d%s", i, strings.Repeat("k7Qx", i*2))
	}
	rooms[0].URL = "https://p.ex/1" // 14 bytes: the smallest code there is (21 modules)
	return qrsheet.Sheet{Title: "Acme · Amsterdam HQ", Rooms: rooms}
}

// wantPages is the floor each page of site's PDF shows, in order.
var wantPages = []string{"2", "2", "10", "Mezzanine"}

// TestPDF prints site on each paper size and checks the result with
// poppler, a real PDF renderer, and an independent QR decoder: every room's
// code scans to its URL exactly once, each at least 4 cm across, each page
// holds one floor's rooms in floor order, and the text (accents, Cyrillic
// and escaping-prone names included) is there to read.
func TestPDF(t *testing.T) {
	t.Parallel()
	s := site()
	for _, tc := range []struct {
		paper      qrsheet.Paper
		wantW      float64 // points
		wantH      float64
		wantFormat string
	}{
		{qrsheet.A4, 595.28, 841.89, "A4"},
		{qrsheet.Letter, 612, 792, "letter"},
	} {
		t.Run(tc.paper.String(), func(t *testing.T) {
			t.Parallel()
			pdf := renderPDF(t, s, tc.paper)
			info := pdfInfo(t, pdf)
			if info.pages != len(wantPages) {
				t.Errorf("pages=%d, want %d", info.pages, len(wantPages))
			}
			if math.Abs(info.w-tc.wantW) > 0.5 || math.Abs(info.h-tc.wantH) > 0.5 || info.format != tc.wantFormat {
				t.Errorf("page size %v x %v pts (%s), want %v x %v (%s)", info.w, info.h, info.format, tc.wantW, tc.wantH, tc.wantFormat)
			}
			checkCodes(t, s, qrsheettest.Rasterise(t, pdf, 150), 150)
			text := pdfText(t, pdf)
			for _, want := range []string{s.Title, "Page 1 of 4", "Page 4 of 4", "Floor 10", "Mezzanine", qrsheet.DefaultInstruction} {
				if !strings.Contains(text, want) {
					t.Errorf("the PDF's text lacks %q", want)
				}
			}
			for _, r := range s.Rooms {
				if !strings.Contains(text, r.Name) {
					t.Errorf("the PDF's text lacks the room %q", r.Name)
				}
			}
		})
	}
}

// checkCodes decodes every page and checks the codes against the sheet's
// rooms, pages in order of floor.
func checkCodes(t *testing.T, s qrsheet.Sheet, pages []qrsheettest.Grey, dpi float64) {
	t.Helper()
	rooms := make(map[string]qrsheet.Room) // by URL
	for _, r := range s.Rooms {
		rooms[r.URL] = r
	}
	seen := make(map[string]int)
	for i, img := range pages {
		codes := qrsheettest.Decode(t, img)
		if len(codes) == 0 {
			t.Errorf("page %d: no QR code decodes", i+1)
		}
		for _, c := range codes {
			seen[c.Text]++
			r, ok := rooms[c.Text]
			switch {
			case !ok:
				t.Errorf("page %d: a code says %q, which is no room's URL", i+1, c.Text)
				continue
			case i < len(wantPages) && r.Floor != wantPages[i]:
				t.Errorf("page %d: %s (floor %s) is on the page of floor %s", i+1, r.Name, r.Floor, wantPages[i])
			case c.Level != "M":
				t.Errorf("%s: error correction level %q, want M as the edge's codes", r.Name, c.Level)
			}
			if mm := c.SizePx / dpi * 25.4; mm < 40 {
				t.Errorf("%s: the code is %.1f mm across, want at least 40 to scan across a table", r.Name, mm)
			}
		}
	}
	for _, r := range s.Rooms {
		if n := seen[r.URL]; n != 1 {
			t.Errorf("%s: its code decoded %d times, want once", r.Name, n)
		}
	}
}

// TestPDFNoRooms prints a sheet without rooms: one page that says so.
func TestPDFNoRooms(t *testing.T) {
	t.Parallel()
	pdf := renderPDF(t, qrsheet.Sheet{Title: "Acme · Empty"}, qrsheet.A4)
	if got, want := pdfInfo(t, pdf).pages, 1; got != want {
		t.Errorf("pages=%d, want %d", got, want)
	}
	text := pdfText(t, pdf)
	for _, want := range []string{"Acme · Empty", "There are no rooms to print.", "Page 1 of 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}
}

// TestPDFSameBytes renders the same sheet twice, and once with its rooms
// in another order: a handler can cache and ETag the PDF only if the
// bytes depend on the rooms alone.
func TestPDFSameBytes(t *testing.T) {
	t.Parallel()
	s := site()
	first := renderPDF(t, s, qrsheet.Letter)
	if second := renderPDF(t, s, qrsheet.Letter); !bytes.Equal(first, second) {
		t.Error("two PDFs of the same sheet differ")
	}
	slices.Reverse(s.Rooms)
	if reordered := renderPDF(t, s, qrsheet.Letter); !bytes.Equal(first, reordered) {
		t.Error("the PDF changes with the order rooms are given in")
	}
}

// TestPDFAwkwardText prints text the PDF writer cannot take as it is: an
// emoji (fpdf panics on any character beyond U+FFFF, go-pdf/fpdf#40), a
// line break, a name far too long for a card, an instruction of our own.
func TestPDFAwkwardText(t *testing.T) {
	t.Parallel()
	long := "The Very Long Meeting Room Name That The Facility Team Insisted On Keeping"
	s := qrsheet.Sheet{
		Title:       "Pizza 🍕 HQ",
		Instruction: "Scan me\nfor coffee",
		Rooms: []qrsheet.Room{
			{Name: "Room 𐀀 🎉", Floor: "1", URL: "https://pantry.example.com/q/a"},
			{Name: long, Floor: "1", URL: "https://pantry.example.com/q/b"},
		},
	}
	text := pdfText(t, renderPDF(t, s, qrsheet.A4))
	for _, want := range []string{"Pizza \uFFFD HQ", "Room \uFFFD \uFFFD", "Scan me for coffee", "The Very Long Meeting Room"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, long) || !strings.Contains(text, "…") {
		t.Errorf("a name too long for its card is printed whole, not cut short with …:\n%s", text)
	}
}

// TestRoomsThatCannotPrint asks for codes that cannot be made: each
// renderer fails, names the room and writes nothing.
func TestRoomsThatCannotPrint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		room qrsheet.Room
		want string
	}{
		{"NoURL", qrsheet.Room{Name: "Oslo"}, `room "Oslo": it has no URL`},
		{"TooLong", qrsheet.Room{Name: "Oslo", URL: "https://pantry.example.com/q/" + strings.Repeat("x", 3000)}, `room "Oslo": content too long`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := qrsheet.Sheet{Rooms: []qrsheet.Room{{Name: "Lisboa", URL: "https://pantry.example.com/q/a"}, tc.room}}
			renders := map[string]func(w io.Writer) error{
				"PDF": func(w io.Writer) error { return qrsheet.PDF(w, s, qrsheet.A4) },
				"SVG": func(w io.Writer) error { return qrsheet.SVG(w, s) },
				"PNG": func(w io.Writer) error { return qrsheet.PNG(w, tc.room, 256) },
			}
			for _, name := range []string{"PDF", "SVG", "PNG"} {
				var buf bytes.Buffer
				err := renders[name](&buf)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: err=%v, want one saying %q", name, err, tc.want)
				}
				if buf.Len() > 0 {
					t.Errorf("%s: wrote %d bytes despite the error", name, buf.Len())
				}
			}
		})
	}
}

// TestPDFUnknownPaper refuses a paper size it has no layout for.
func TestPDFUnknownPaper(t *testing.T) {
	t.Parallel()
	if err := qrsheet.PDF(io.Discard, site(), qrsheet.Paper(7)); err == nil {
		t.Error("PDF on Paper(7) succeeded, want an error")
	}
}

// TestParsePaper reads ?paper= as the dashboard receives it.
func TestParsePaper(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    qrsheet.Paper
		wantErr bool
	}{
		{"", qrsheet.A4, false},
		{"a4", qrsheet.A4, false},
		{"A4", qrsheet.A4, false},
		{"letter", qrsheet.Letter, false},
		{" Letter ", qrsheet.Letter, false},
		{"legal", 0, true},
	} {
		t.Run(strconv.Quote(tc.in), func(t *testing.T) {
			got, err := qrsheet.ParsePaper(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParsePaper(%q) = %v, %v; want %v, error %t", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
	for _, p := range []qrsheet.Paper{qrsheet.A4, qrsheet.Letter} {
		if got, err := qrsheet.ParsePaper(p.String()); got != p || err != nil {
			t.Errorf("ParsePaper(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
	}
}

// TestSVG checks the SVG document as XML: well-formed, every room's name
// as text (never as markup: `<script>` is a name, not an element), and a
// sheet without rooms says so.
func TestSVG(t *testing.T) {
	t.Parallel()
	s := site()
	svg := renderSVG(t, s)
	texts, elements := parseSVG(t, svg)
	for _, r := range s.Rooms {
		if !slices.Contains(texts, r.Name) {
			t.Errorf("no <text> says %q", r.Name)
		}
	}
	for _, want := range []string{s.Title, "Floor 2", "Floor 10", "Mezzanine", qrsheet.DefaultInstruction} {
		if !slices.Contains(texts, want) {
			t.Errorf("no <text> says %q", want)
		}
	}
	if slices.Contains(elements, "script") {
		t.Error("the room named <script> became a <script> element")
	}
	for _, want := range []string{"&lt;script&gt;", "A &amp; B"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("the SVG lacks the escaped name %s", want)
		}
	}

	empty, _ := parseSVG(t, renderSVG(t, qrsheet.Sheet{Title: "Acme · Empty"}))
	if !slices.Contains(empty, "There are no rooms to print.") {
		t.Errorf("the SVG of a sheet without rooms says %q, not that there are none", empty)
	}
	if again := renderSVG(t, s); !bytes.Equal(svg, again) {
		t.Error("two SVGs of the same sheet differ")
	}
}

// TestSVGCodesScan opens the SVG in headless Chromium, as an admin would,
// and decodes a screenshot of it. A browser, rather than reading the
// modules back out of the path data, because that would only check our
// writer against our own reader: the browser also checks the viewBox and
// nested coordinate systems, the white quiet zone and that the document
// renders at all, which is what a person scanning a printed SVG relies on.
func TestSVGCodesScan(t *testing.T) {
	t.Parallel()
	s := site()
	svg := renderSVG(t, s)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = w.Write(svg)
	}))
	t.Cleanup(srv.Close)

	b := browsertest.New(t, browsertest.Options{Viewport: browsertest.Viewport{Width: 800, Height: 1000}})
	// One and a half pixels a CSS pixel: 144 dpi, about the PDF test's 150.
	b.Do(t, chromedp.EmulateViewport(800, 1000, chromedp.EmulateScale(1.5)))
	b.Open(t, srv.URL+"/qr.svg")
	shot, err := chromedp.Run(b.Context(), chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// The page is 800 CSS pixels wide, and a CSS pixel is 1/96 inch.
	dpi := float64(img.Bounds().Dx()) / 800 * 96
	b.NoProblems(t)
	names := make(map[string]string) // by URL
	for _, r := range s.Rooms {
		names[r.URL] = r.Name
	}
	seen := make(map[string]int)
	for _, c := range qrsheettest.Decode(t, qrsheettest.GreyOf(img)) {
		seen[c.Text]++
		if mm := c.SizePx / dpi * 25.4; mm < 40 {
			t.Errorf("%s: the code is %.1f mm across, want at least 40", names[c.Text], mm)
		}
	}
	for _, r := range s.Rooms {
		if n := seen[r.URL]; n != 1 {
			t.Errorf("%s: its code decoded %d times in the browser, want once", r.Name, n)
		}
	}
	if len(seen) != len(s.Rooms) {
		t.Errorf("decoded %d distinct codes, want %d", len(seen), len(s.Rooms))
	}
}

// TestPNG decodes one room's PNG to its URL.
func TestPNG(t *testing.T) {
	t.Parallel()
	r := site().Rooms[3]
	var buf bytes.Buffer
	if err := qrsheet.PNG(&buf, r, 300); err != nil {
		t.Fatalf("PNG: %v", err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decode PNG: %v", err)
	}
	if got, want := img.Bounds().Size(), image.Pt(300, 300); got != want {
		t.Errorf("size=%v, want %v", got, want)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the PNG does not decode: %v", err)
	}
	if got, want := res.GetText(), r.URL; got != want {
		t.Errorf("the PNG says %q, want %q", got, want)
	}
	if err := qrsheet.PNG(io.Discard, r, 0); err == nil {
		t.Error("PNG of 0 px succeeded, want an error")
	}
}

// FuzzText renders sheets whose text is anything at all: the PDF and the
// SVG must succeed, and the SVG stay well-formed XML.
func FuzzText(f *testing.F) {
	for _, seed := range []string{"Zürich", "🍕", "\U00010000", "\x00\x1b[31m", "\xff\xfe", "a\u202eb", "]]><x/>", ""} {
		f.Add(seed, seed)
	}
	f.Fuzz(func(t *testing.T, name, floor string) {
		s := qrsheet.Sheet{Title: name, Instruction: floor, Rooms: []qrsheet.Room{{Name: name, Floor: floor, URL: "https://pantry.example.com/q/a"}}}
		if err := qrsheet.PDF(io.Discard, s, qrsheet.A4); err != nil {
			t.Fatalf("PDF: %v", err)
		}
		parseSVG(t, renderSVG(t, s))
	})
}

func renderPDF(tb testing.TB, s qrsheet.Sheet, paper qrsheet.Paper) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := qrsheet.PDF(&buf, s, paper); err != nil {
		tb.Fatalf("PDF: %v", err)
	}
	return buf.Bytes()
}

func renderSVG(tb testing.TB, s qrsheet.Sheet) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := qrsheet.SVG(&buf, s); err != nil {
		tb.Fatalf("SVG: %v", err)
	}
	return buf.Bytes()
}

// parseSVG reads svg with encoding/xml, failing on anything not
// well-formed, and returns the text of each <text> element and the name
// of every element.
func parseSVG(tb testing.TB, svg []byte) (texts, elements []string) {
	tb.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	var in string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			elements = append(elements, tok.Name.Local)
			in = tok.Name.Local
		case xml.EndElement:
			in = ""
		case xml.CharData:
			if in == "text" {
				texts = append(texts, string(tok))
			}
		}
	}
	if len(elements) == 0 || elements[0] != "svg" {
		tb.Fatalf("the document's root is not <svg>: %v", elements[:min(3, len(elements))])
	}
	return texts, elements
}

// writeTemp writes pdf to a file the poppler commands can read.
func writeTemp(tb testing.TB, pdf []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "sheet.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

type info struct {
	pages  int
	w, h   float64 // points
	format string  // as pdfinfo names it: "A4", "letter"
}

var pageSizeLine = regexp.MustCompile(`(?m)^Page size:\s+([\d.]+) x ([\d.]+) pts(?: \((\w+)\))?`)
var pagesLine = regexp.MustCompile(`(?m)^Pages:\s+(\d+)`)

// pdfInfo reads the page count and the first page's size with pdfinfo.
func pdfInfo(tb testing.TB, pdf []byte) info {
	tb.Helper()
	out := qrsheettest.Run(tb, "pdfinfo", writeTemp(tb, pdf))
	m, p := pageSizeLine.FindStringSubmatch(out), pagesLine.FindStringSubmatch(out)
	if m == nil || p == nil {
		tb.Fatalf("pdfinfo says no page size or count:\n%s", out)
	}
	var i info
	i.pages, _ = strconv.Atoi(p[1])
	i.w, _ = strconv.ParseFloat(m[1], 64)
	i.h, _ = strconv.ParseFloat(m[2], 64)
	i.format = m[3]
	return i
}

// pdfText is the PDF's text in reading order, as pdftotext extracts it.
func pdfText(tb testing.TB, pdf []byte) string {
	tb.Helper()
	return qrsheettest.Run(tb, "pdftotext", "-raw", "-enc", "UTF-8", writeTemp(tb, pdf), "-")
}

// TestCache: the cache answers what PDF and SVG write; a sheet that differs in
// anything printed (a room's name, its URL, the paper) is made anew, and
// one made before is not made again.
func TestCache(t *testing.T) {
	t.Parallel()
	c, err := qrsheet.NewCache(8)
	if err != nil {
		t.Fatal(err)
	}
	s := site()
	get := func(s qrsheet.Sheet, p qrsheet.Paper) []byte {
		t.Helper()
		b, err := c.PDF(s, p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := get(s, qrsheet.A4)
	if want := renderPDF(t, s, qrsheet.A4); !bytes.Equal(first, want) {
		t.Fatal("the cache's PDF differs from PDF's")
	}
	if again := get(s, qrsheet.A4); &again[0] != &first[0] {
		t.Error("the same sheet was made again")
	}
	renamed := site()
	renamed.Rooms = slices.Clone(renamed.Rooms)
	renamed.Rooms[0].Name += " (new)"
	moved := site()
	moved.Rooms = slices.Clone(moved.Rooms)
	moved.Rooms[0].URL += "x"
	for name, tc := range map[string]struct {
		s qrsheet.Sheet
		p qrsheet.Paper
	}{"Renamed": {renamed, qrsheet.A4}, "Rotated": {moved, qrsheet.A4}, "Letter": {s, qrsheet.Letter}} {
		if b := get(tc.s, tc.p); bytes.Equal(b, first) || !bytes.Equal(b, renderPDF(t, tc.s, tc.p)) {
			t.Errorf("%s: the cache answered another sheet's PDF", name)
		}
	}
	if _, err := c.PDF(qrsheet.Sheet{Title: "x", Rooms: []qrsheet.Room{{Name: "No URL"}}}, qrsheet.A4); err == nil {
		t.Error("a room without a URL was cached as a PDF")
	}

	// SVGs: the same sheet's SVG is SVG's, made once, and never a PDF.
	svg, err := c.SVG(s)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := qrsheet.SVG(&want, s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(svg, want.Bytes()) {
		t.Fatal("the cache's SVG differs from SVG's")
	}
	if again, _ := c.SVG(s); &again[0] != &svg[0] {
		t.Error("the same SVG was made again")
	}
	if b, _ := c.SVG(renamed); bytes.Equal(b, svg) {
		t.Error("the cache answered another sheet's SVG")
	}
}

// TestPDFFonts: a sheet whose text is all in Windows-1252 uses the
// standard Helvetica, which every reader has, and embeds no font; one
// with a name beyond it ("Переговорная") embeds DejaVu Sans. Both print
// every name as text and every code so that it scans.
func TestPDFFonts(t *testing.T) {
	t.Parallel()
	withCyrillic := site()
	latin := site()
	latin.Rooms = slices.DeleteFunc(slices.Clone(latin.Rooms), func(r qrsheet.Room) bool { return r.Name == "Переговорная" })
	if len(latin.Rooms) != len(withCyrillic.Rooms)-1 {
		t.Fatalf("the Latin sheet has %d rooms, want %d", len(latin.Rooms), len(withCyrillic.Rooms)-1)
	}
	polish := latin
	polish.Rooms = append(slices.Clone(latin.Rooms), qrsheet.Room{Name: "Łódź", Floor: "2", URL: "https://pantry.example/q/lodz"}) // Ł is not in Windows-1252
	latin.Rooms = append(latin.Rooms, qrsheet.Room{Name: "Salle Été — « Genève »", Floor: "2", URL: "https://pantry.example/q/geneve"})
	for _, tc := range []struct {
		name  string
		s     qrsheet.Sheet
		want  string // the font pdffonts lists
		embed string // its "emb" column
	}{
		{"Latin", latin, "helvetica", "no"},
		{"Cyrillic", withCyrillic, "dejavusans", "yes"},
		{"Polish", polish, "dejavusans", "yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pdf := renderPDF(t, tc.s, qrsheet.A4)
			fonts := qrsheettest.Run(t, "pdffonts", writeTemp(t, pdf))
			found := false
			for _, line := range strings.Split(fonts, "\n")[2:] {
				f := strings.Fields(line)
				if len(f) < 5 {
					continue
				}
				if !strings.Contains(strings.ToLower(f[0]), tc.want) {
					t.Errorf("the PDF uses font %s, want only %s:\n%s", f[0], tc.want, fonts)
				}
				found = true
				if emb := f[len(f)-5]; emb != tc.embed {
					t.Errorf("font %s embedded %q, want %q:\n%s", f[0], emb, tc.embed, fonts)
				}
			}
			if !found {
				t.Fatalf("pdffonts lists no font:\n%s", fonts)
			}
			text := pdfText(t, pdf)
			for _, r := range tc.s.Rooms {
				if !strings.Contains(text, r.Name) {
					t.Errorf("the PDF's text lacks the room %q", r.Name)
				}
			}
			decoded := map[string]bool{}
			for _, img := range qrsheettest.Rasterise(t, pdf, 150) {
				for _, c := range qrsheettest.Decode(t, img) {
					decoded[c.Text] = true
				}
			}
			for _, r := range tc.s.Rooms {
				if !decoded[r.URL] {
					t.Errorf("%s: its code does not scan", r.Name)
				}
			}
		})
	}
}
