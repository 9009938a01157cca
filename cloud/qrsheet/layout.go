package qrsheet

import (
	"embed"
	"fmt"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/text/encoding/charmap"
)

// The page, in millimetres. Six cards a page (two columns, three rows)
// leave room for a code of at least 4 cm on US Letter, the shorter paper:
// a card there is 98 × 80 mm, its code with the quiet zone 58 mm square,
// and even the smallest code (21 modules plus 8 of quiet zone) is 42 mm
// without its quiet zone. Eight cards a page would make codes of 3 cm.
const (
	margin  = 10.0 // most printers cannot print the outer 4 to 6 mm
	headerH = 18.0 // the title and page number, then the floor
	cols    = 2
	rows    = 3
	perPage = cols * rows

	cardPad   = 3.0  // above the code, and below the card's last line
	textBelow = 19.5 // from the code's quiet zone to the card's bottom
)

// Text sizes, in points, and the smallest a long text shrinks to before
// it is cut short with an ellipsis.
const (
	titlePt, titleMinPt     = 14, 9
	headingPt               = 12
	pageNumberPt            = 9
	namePt, nameMinPt       = 15, 10
	floorPt                 = 11
	instructionPt, instrMin = 9.5, 6
)

// size is the paper's width and height in millimetres, as fpdf names it.
func (p Paper) size() (fpdf.SizeType, error) {
	switch p {
	case A4:
		return fpdf.SizeType{Wd: 210, Ht: 297}, nil
	case Letter:
		return fpdf.SizeType{Wd: 215.9, Ht: 279.4}, nil
	}
	return fpdf.SizeType{}, fmt.Errorf("unknown paper size %v", p)
}

// grid is where the cards go on a page: the first card's top-left corner
// and each card's size.
type grid struct {
	x0, y0       float64
	cardW, cardH float64
}

// gridFor lays the cards out on a page of the given size.
func gridFor(page fpdf.SizeType) grid {
	y0 := margin + headerH
	return grid{
		x0:    margin,
		y0:    y0,
		cardW: (page.Wd - 2*margin) / cols,
		cardH: (page.Ht - y0 - margin) / rows,
	}
}

// cell is the top-left corner of the i-th card of a page.
func (g grid) cell(i int) (x, y float64) {
	return g.x0 + float64(i%cols)*g.cardW, g.y0 + float64(i/cols)*g.cardH
}

// guides are the cut lines around the first n cards, as x1, y1, x2, y2:
// each edge once and drawn in one direction, so the dashes of
// neighbouring cards do not overlap out of step.
func (g grid) guides(n int) [][4]float64 {
	var ls [][4]float64
	for i := range n {
		x, y := g.cell(i)
		r, b := x+g.cardW, y+g.cardH
		ls = append(ls, [4]float64{x, y, r, y}, [4]float64{x, y, x, b}) // top, left
		if i%cols == cols-1 || i+1 >= n {
			ls = append(ls, [4]float64{r, y, r, b}) // right
		}
		if i+cols >= n {
			ls = append(ls, [4]float64{x, b, r, b}) // bottom
		}
	}
	return ls
}

// card is where a card's parts go, relative to its top-left corner.
type card struct {
	w, h       float64
	box        float64 // the side of the code, quiet zone included
	boxX, boxY float64
	textW      float64 // how wide a line of text may be
	// The baselines of the room's name, its floor and the instruction.
	nameY, floorY, instrY float64
}

// cardIn lays a card out in a cell of the grid: the code as large as the
// cell allows, its text centred underneath.
func cardIn(g grid) card {
	box := min(g.cardW-2*cardPad, g.cardH-cardPad-textBelow)
	bottom := cardPad + box
	return card{
		w: g.cardW, h: g.cardH,
		box: box, boxX: (g.cardW - box) / 2, boxY: cardPad,
		textW: g.cardW - 2*cardPad - 2,
		nameY: bottom + 5.5, floorY: bottom + 10.5, instrY: bottom + 15.5,
	}
}

// pt converts points to millimetres.
func pt(size float64) float64 { return size * 25.4 / 72 }

//go:embed fonts/DejaVuSans.ttf fonts/DejaVuSans-Bold.ttf
var fonts embed.FS

// family names the embedded font in a PDF.
const family = "DejaVuSans"

// coreFamily is the PDF standard font a sheet uses when all its text is
// in Windows-1252: every PDF reader has it, so nothing is embedded, and
// a sheet is made in about two thirds of the time (no 740 KB TrueType
// file to parse, subset and compress per document).
const coreFamily = "Helvetica"

// epoch is the creation date every PDF claims: the date a document was
// made would make the same rooms render different bytes.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// newDoc starts a PDF in millimetres, without automatic page breaks (the
// layout places everything), with fixed dates, and the typesetter for
// its text: the embedded DejaVu Sans, or with core the standard
// Helvetica (for text that is all in Windows-1252, see inCore).
func newDoc(page fpdf.SizeType, title string, core bool) (*fpdf.Fpdf, typesetter, error) {
	doc := fpdf.NewCustom(&fpdf.InitType{UnitStr: "mm", Size: page})
	doc.SetAutoPageBreak(false, 0)
	doc.SetMargins(0, 0, 0)
	doc.SetCreationDate(epoch)
	doc.SetModificationDate(epoch)
	doc.SetCatalogSort(true)
	doc.SetTitle(title, true)
	doc.SetCreator("Pantry", true)
	if core {
		return doc, typesetter{doc: doc, family: coreFamily, tr: doc.UnicodeTranslatorFromDescriptor("")}, doc.Error()
	}
	for _, f := range []struct{ style, file string }{{"", "fonts/DejaVuSans.ttf"}, {"B", "fonts/DejaVuSans-Bold.ttf"}} {
		b, err := fonts.ReadFile(f.file)
		if err != nil {
			return nil, typesetter{}, fmt.Errorf("embedded font: %w", err)
		}
		doc.AddUTF8FontFromBytes(family, f.style, b)
	}
	if err := doc.Error(); err != nil {
		return nil, typesetter{}, fmt.Errorf("load the embedded font: %w", err)
	}
	return doc, typesetter{doc: doc, family: family, tr: func(s string) string { return s }}, nil
}

// inCore reports whether every string can be written in the standard
// fonts' encoding (Windows-1252): most room names can, "Łódź" cannot.
func inCore(texts ...string) bool {
	enc := charmap.Windows1252.NewEncoder()
	for _, s := range texts {
		if _, err := enc.String(s); err != nil {
			return false
		}
	}
	return true
}

// typesetter measures and writes text in the document's font: tr turns
// text into what the font takes (Windows-1252 bytes for a standard font).
type typesetter struct {
	doc    *fpdf.Fpdf
	family string
	tr     func(string) string
}

// use selects the font style ("" or "B") and size in points.
func (t typesetter) use(style string, size float64) {
	t.doc.SetFont(t.family, style, size)
}

// width is how wide s is in the font selected, in millimetres.
func (t typesetter) width(s string) float64 { return t.doc.GetStringWidth(t.tr(s)) }

// text writes s with its baseline at x, y in the font selected.
func (t typesetter) text(x, y float64, s string) { t.doc.Text(x, y, t.tr(s)) }

// fit returns s and the largest size from size down to minSize, in half
// points, at which s is at most width millimetres wide, and leaves that
// size selected. Text still too wide at minSize is cut short with "…".
func (t typesetter) fit(style, s string, width, size, minSize float64) (string, float64) {
	for ; size > minSize; size -= 0.5 {
		t.use(style, size)
		if t.width(s) <= width {
			return s, size
		}
	}
	t.use(style, minSize)
	if t.width(s) <= width {
		return s, minSize
	}
	rs := []rune(s)
	for len(rs) > 0 && t.width(string(rs)+"…") > width {
		rs = rs[:len(rs)-1]
	}
	return strings.TrimRight(string(rs), " ") + "…", minSize
}
