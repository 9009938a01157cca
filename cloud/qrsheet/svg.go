package qrsheet

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
)

// SVG writes s as one SVG document: the PDF's cards on one long A4-wide
// strip (in millimetres), floor after floor, each under its heading.
// Codes are vector paths, one per code, so the document scales to any
// size; text is escaped, so any room name is text and the document stays
// well-formed XML. Text is measured with the PDF's font, DejaVu Sans, and
// asks for it by name: a viewer without it substitutes a similar font.
//
// As with PDF, nothing is written unless every room's code encodes, and
// the same sheet always makes the same bytes.
func SVG(w io.Writer, s Sheet) error {
	gs := groups(s.Rooms)
	codes, err := encodeGroups(gs)
	if err != nil {
		return err
	}
	page, _ := A4.size()
	_, t, err := newDoc(page, "", false) // the SVG names DejaVu Sans: measure in it
	if err != nil {
		return err
	}
	sv := &svgSheet{t: t, g: gridFor(page), width: page.Wd}
	sv.render(clean(s.Title), gs, codes, instruction(s))
	if _, err := w.Write(sv.buf.Bytes()); err != nil {
		return fmt.Errorf("write SVG: %w", err)
	}
	return nil
}

// svgSheet builds an SVG document in buf.
type svgSheet struct {
	buf   bytes.Buffer
	t     typesetter
	g     grid // the PDF's A4 grid, for the cards' size and the left margin
	width float64
}

// render writes the whole document: the title, then each floor's heading
// and its cards, two to a row. The height is known only at the end, so the
// body is built first.
func (sv *svgSheet) render(title string, gs []floorGroup, codes [][][][]bool, instr string) {
	var body svgSheet
	body.t, body.g = sv.t, sv.g
	y := margin + 5
	body.text(margin, y, "start", "B", title, sv.width-2*margin, titlePt, titleMinPt)
	y += 4
	if len(gs) == 0 {
		y += 16
		body.text(sv.width/2, y, "middle", "", "There are no rooms to print.", sv.width-2*margin, headingPt, headingPt)
	}
	c := cardIn(sv.g)
	for gi, fg := range gs {
		if fg.Heading != "" {
			y += 8.5
			body.text(margin, y, "start", "B", fg.Heading, sv.width-2*margin, headingPt, headingPt/2)
		}
		g := grid{x0: margin, y0: y + 3.5, cardW: sv.g.cardW, cardH: sv.g.cardH}
		body.guides(g, len(fg.Rooms))
		for i, r := range fg.Rooms {
			x, cy := g.cell(i)
			body.card(x, cy, c, r, codes[gi][i], instr)
		}
		rowsUsed := (len(fg.Rooms) + cols - 1) / cols
		y = g.y0 + float64(rowsUsed)*g.cardH + 4
	}
	height := y + margin
	fmt.Fprintf(&sv.buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"+
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%smm\" height=\"%smm\" viewBox=\"0 0 %s %s\" "+
		"font-family=\"'DejaVu Sans', Verdana, sans-serif\">\n",
		num(sv.width), num(height), num(sv.width), num(height))
	fmt.Fprintf(&sv.buf, "<title>%s</title>\n", escape(title))
	fmt.Fprintf(&sv.buf, "<rect width=\"%s\" height=\"%s\" fill=\"#fff\"/>\n", num(sv.width), num(height))
	sv.buf.Write(body.buf.Bytes())
	sv.buf.WriteString("</svg>\n")
}

// guides draws the dashed cut lines around n cards as one path.
func (sv *svgSheet) guides(g grid, n int) {
	if n == 0 {
		return
	}
	sv.buf.WriteString(`<path fill="none" stroke="#969696" stroke-width="0.2" stroke-dasharray="2 1.5" d="`)
	for _, l := range g.guides(n) {
		fmt.Fprintf(&sv.buf, "M%s %sL%s %s", num(l[0]), num(l[1]), num(l[2]), num(l[3]))
	}
	sv.buf.WriteString("\"/>\n")
}

// card writes a room's card with its top-left corner at x, y.
func (sv *svgSheet) card(x, y float64, c card, r Room, code [][]bool, instr string) {
	fmt.Fprintf(&sv.buf, "<g transform=\"translate(%s %s)\">\n", num(x), num(y))
	sv.code(c.boxX, c.boxY, c.box, code)
	mid := c.w / 2
	sv.text(mid, c.nameY, "middle", "B", r.Name, c.textW, namePt, nameMinPt)
	if floor := floorLabel(r.Floor); floor != "" {
		sv.text(mid, c.floorY, "middle", "", floor, c.textW, floorPt, floorPt/2, `fill="#464646"`)
	}
	sv.text(mid, c.instrY, "middle", "", instr, c.textW, instructionPt, instrMin, `fill="#464646"`)
	sv.buf.WriteString("</g>\n")
}

// code writes a code side millimetres square at x, y as a nested SVG
// whose units are modules, quiet zone included: its one path is a
// rectangle per run of dark modules, in whole numbers.
func (sv *svgSheet) code(x, y, side float64, code [][]bool) {
	n := len(code)
	fmt.Fprintf(&sv.buf, "<svg x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">",
		num(x), num(y), num(side), num(side), n, n)
	fmt.Fprintf(&sv.buf, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"", n, n)
	for at, w := range darkRuns(code) {
		fmt.Fprintf(&sv.buf, "M%d %dh%dv1h-%dz", at[0], at[1], w, w)
	}
	sv.buf.WriteString("\"/></svg>\n")
}

// text writes s with its baseline at y, anchored at x ("start" or
// "middle"), at the largest size up to size points that fits width.
func (sv *svgSheet) text(x, y float64, anchor, style, s string, width, size, minSize float64, attrs ...string) {
	if s == "" {
		return
	}
	s, size = sv.t.fit(style, s, width, size, minSize)
	fmt.Fprintf(&sv.buf, "<text x=\"%s\" y=\"%s\" font-size=\"%s\"", num(x), num(y), num(pt(size)))
	if anchor != "start" {
		fmt.Fprintf(&sv.buf, " text-anchor=\"%s\"", anchor)
	}
	if style == "B" {
		sv.buf.WriteString(` font-weight="bold"`)
	}
	for _, a := range attrs {
		sv.buf.WriteString(" " + a)
	}
	fmt.Fprintf(&sv.buf, ">%s</text>\n", escape(s))
}

// num formats a length in millimetres to a hundredth, without trailing
// zeros.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// escape makes s safe as XML character data.
func escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // a bytes.Buffer does not fail
	return b.String()
}
