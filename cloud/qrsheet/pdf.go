package qrsheet

import (
	"fmt"
	"io"

	"codeberg.org/go-pdf/fpdf"
)

// PDF writes s as a printable PDF on paper: six cards a page (two
// columns, three rows), each with a room's code, name and floor and the
// instruction, inside dashed cut guides. Every page is headed by the
// title, its page number and the floor; each floor starts a new page.
// A sheet without rooms is a one-page document that says so.
//
// Nothing is written unless every room's code encodes (a room without a
// URL, or one too long for a QR code, is an error naming the room), and
// the same sheet on the same paper always makes the same bytes.
func PDF(w io.Writer, s Sheet, paper Paper) error {
	page, err := paper.size()
	if err != nil {
		return err
	}
	gs := groups(s.Rooms)
	codes, err := encodeGroups(gs)
	if err != nil {
		return err
	}
	title := clean(s.Title)
	instr := instruction(s)
	doc, t, err := newDoc(page, title, inCore(sheetText(gs, title, instr)...))
	if err != nil {
		return err
	}
	p := &pdfSheet{doc: doc, t: t, page: page, title: title, pages: pageCount(gs)}
	p.render(gs, codes, instr)
	if err := doc.Output(w); err != nil {
		return fmt.Errorf("write PDF: %w", err)
	}
	return nil
}

// sheetText is every string a sheet of groups gs prints but page numbers
// (digits and "Page … of …", which every font has).
func sheetText(gs []floorGroup, title, instr string) []string {
	out := []string{title, instr, "…"}
	for _, g := range gs {
		out = append(out, g.Heading)
		for _, r := range g.Rooms {
			out = append(out, r.Name, floorLabel(r.Floor))
		}
	}
	return out
}

// instruction is the line s prints on each card.
func instruction(s Sheet) string {
	if in := clean(s.Instruction); in != "" {
		return in
	}
	return DefaultInstruction
}

// encodeGroups encodes every room's code, in the order the rooms print,
// as its modules, quiet zone included: codes[g][i][y][x] is true for a
// dark module of the i-th room of the g-th group.
func encodeGroups(gs []floorGroup) ([][][][]bool, error) {
	codes := make([][][][]bool, len(gs))
	for i, g := range gs {
		for _, r := range g.Rooms {
			q, err := encode(r)
			if err != nil {
				return nil, err
			}
			codes[i] = append(codes[i], q.Bitmap())
		}
	}
	return codes, nil
}

// pageCount is how many pages the groups fill: each floor starts a page,
// and an empty sheet still has one.
func pageCount(gs []floorGroup) int {
	n := 0
	for _, g := range gs {
		n += (len(g.Rooms) + perPage - 1) / perPage
	}
	return max(n, 1)
}

// pdfSheet draws a sheet's pages into doc.
type pdfSheet struct {
	doc   *fpdf.Fpdf
	t     typesetter
	page  fpdf.SizeType
	title string
	pages int // how many pages the sheet has, for "Page 2 of 4"
	n     int // the page being drawn, from 1
}

// render draws every floor's cards, a new page for each floor and every
// six cards.
func (p *pdfSheet) render(gs []floorGroup, codes [][][][]bool, instr string) {
	g := gridFor(p.page)
	c := cardIn(g)
	if len(gs) == 0 {
		p.newPage("")
		p.t.use("", headingPt)
		p.centred(p.page.Wd/2, g.y0+20, "There are no rooms to print.")
		return
	}
	for gi, fg := range gs {
		for i, r := range fg.Rooms {
			k := i % perPage
			if k == 0 {
				p.newPage(fg.Heading)
				p.cutGuides(g, min(perPage, len(fg.Rooms)-i))
			}
			x, y := g.cell(k)
			p.card(x, y, c, r, codes[gi][i], instr)
		}
	}
}

// newPage starts a page headed by the title, the page number and heading.
func (p *pdfSheet) newPage(heading string) {
	p.doc.AddPage()
	p.n++
	p.doc.SetTextColor(0, 0, 0)
	number := fmt.Sprintf("Page %d of %d", p.n, p.pages)
	p.t.use("", pageNumberPt)
	right := p.page.Wd - margin
	numberW := p.t.width(number)
	p.t.text(right-numberW, margin+5, number)
	title, _ := p.t.fit("B", p.title, right-margin-numberW-5, titlePt, titleMinPt)
	p.t.text(margin, margin+5, title)
	if heading != "" {
		heading, _ = p.t.fit("B", heading, right-margin, headingPt, headingPt/2)
		p.t.text(margin, margin+12.5, heading)
	}
}

// cutGuides draws dashed lines around the first n cards of a page.
func (p *pdfSheet) cutGuides(g grid, n int) {
	p.doc.SetDrawColor(150, 150, 150)
	p.doc.SetLineWidth(0.2)
	p.doc.SetDashPattern([]float64{2, 1.5}, 0)
	for _, l := range g.guides(n) {
		p.doc.Line(l[0], l[1], l[2], l[3])
	}
	p.doc.SetDashPattern(nil, 0)
}

// card draws a room's card with its top-left corner at x, y.
func (p *pdfSheet) card(x, y float64, c card, r Room, code [][]bool, instr string) {
	p.code(x+c.boxX, y+c.boxY, c.box, code)
	mid := x + c.w/2
	name, _ := p.t.fit("B", r.Name, c.textW, namePt, nameMinPt)
	p.doc.SetTextColor(0, 0, 0)
	p.centred(mid, y+c.nameY, name)
	p.doc.SetTextColor(70, 70, 70)
	if floor := floorLabel(r.Floor); floor != "" {
		floor, _ = p.t.fit("", floor, c.textW, floorPt, floorPt/2)
		p.centred(mid, y+c.floorY, floor)
	}
	instr, _ = p.t.fit("", instr, c.textW, instructionPt, instrMin)
	p.centred(mid, y+c.instrY, instr)
	p.doc.SetTextColor(0, 0, 0)
}

// code fills the dark modules of a code side millimetres square at x, y
// as one path: one fill leaves no hairline seams between modules, which
// a renderer's anti-aliasing can draw between separate rectangles.
func (p *pdfSheet) code(x, y, side float64, code [][]bool) {
	m := side / float64(len(code))
	p.doc.SetFillColor(0, 0, 0)
	for at, n := range darkRuns(code) {
		x0, y0 := x+float64(at[0])*m, y+float64(at[1])*m
		p.doc.MoveTo(x0, y0)
		p.doc.LineTo(x0+float64(n)*m, y0)
		p.doc.LineTo(x0+float64(n)*m, y0+m)
		p.doc.LineTo(x0, y0+m)
		p.doc.ClosePath()
	}
	p.doc.DrawPath("F")
}

// centred writes s with its baseline at y, centred on x, in the font
// selected.
func (p *pdfSheet) centred(x, y float64, s string) {
	p.t.text(x-p.t.width(s)/2, y, s)
}
