package web

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"strings"
	"unicode/utf8"
)

// A small chart renderer: bar charts drawn on the server as SVG and put
// in the page inline (the CSP blocks inline script and style, not inline
// SVG), so a chart needs no script and prints as it shows. A chart is an
// image with a title and a description that sums it up for screen
// readers (role="img", aria-labelledby); the table beside it is the text
// alternative with every value.
//
// The SVG has no viewBox: lengths along the value axis are percentages
// of its width and the rest are pixels, so it fills any width while its
// text stays at the page's 16 px instead of shrinking on a phone.

// barChart is a chart to draw: a bar per row, horizontal (rows labelled
// by name: sites, rooms, items), or vertical columns along time (days).
type barChart struct {
	ID      string // unique in the page, for the title's and description's ids
	Title   string
	Noun    string // what the bars are: "sites", "days"
	Total   string // the sum of the values, as people read it
	Bars    []chartBar
	Columns bool
	// Slots, for columns, is how many places the time axis has (days
	// of the period): each bar stands at its Slot, so a day without a
	// bar shows as a gap. 0: the bars stand side by side.
	Slots int
	// AxisStart and AxisEnd label the ends of the time axis (default:
	// the first and last bars' labels).
	AxisStart, AxisEnd string
}

// chartBar is one bar: its label, its value and the value written for
// people ("EUR 12.50"), and its place on a time axis (barChart.Slots).
type chartBar struct {
	Label string
	Value int64
	Text  string
	Slot  int
}

// Geometry, in pixels.
const (
	chartRowHeight  = 56 // a horizontal bar's label line, bar and gap
	chartBarHeight  = 20
	chartLabelRunes = 26 // longer labels are cut (the table has them whole)
	chartPlotTop    = 30 // columns: room for the highest value's text
	chartPlotHeight = 170
	chartColsHeight = chartPlotTop + chartPlotHeight + 36
)

// SVG draws the chart. Every text in it is escaped as XML.
func (ch barChart) SVG() template.HTML {
	var b strings.Builder
	height := chartColsHeight
	if !ch.Columns {
		height = max(len(ch.Bars), 1) * chartRowHeight
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="100%%" height="%d" role="img" aria-labelledby="%s-title %s-desc" data-chart="%s">`,
		height, ch.ID, ch.ID, ch.ID)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, ch.ID, chartText(ch.Title), ch.ID, chartText(ch.Desc()))
	if ch.Columns {
		ch.columns(&b)
	} else {
		ch.rows(&b)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text above is escaped by chartText
}

// rows draws horizontal bars: each bar under its label, its value at the
// right end of the label's line.
func (ch barChart) rows(b *strings.Builder) {
	top := ch.top()
	for i, bar := range ch.Bars {
		y := i * chartRowHeight
		fmt.Fprintf(b, `<text class="chart-label" x="0" y="%d">%s</text>`, y+20, chartText(chartCut(bar.Label)))
		fmt.Fprintf(b, `<text class="chart-value" x="100%%" y="%d" text-anchor="end">%s</text>`, y+20, chartText(bar.Text))
		fmt.Fprintf(b, `<rect class="track" x="0" y="%d" width="100%%" height="%d" rx="3"/>`, y+28, chartBarHeight)
		fmt.Fprintf(b, `<rect class="bar" x="0" y="%d" width="%s%%" height="%d" rx="3"><title>%s: %s</title></rect>`,
			y+28, chartPct(bar.Value, top), chartBarHeight, chartText(bar.Label), chartText(bar.Text))
	}
}

// columns draws a column per bar along a baseline, the axis's ends
// labelled under it, and the highest value above (which day it was is
// in the description and the bar's title: a phone has no room for it).
func (ch barChart) columns(b *strings.Builder) {
	top, n := ch.top(), len(ch.Bars)
	base := chartPlotTop + chartPlotHeight
	if hi, ok := ch.highest(); ok {
		fmt.Fprintf(b, `<text class="chart-value" x="0" y="18">Highest: %s</text>`, chartText(hi.Text))
	}
	fmt.Fprintf(b, `<line class="axis" x1="0" x2="100%%" y1="%d" y2="%d"/>`, base, base)
	slots := n
	if ch.Slots > 0 {
		slots = ch.Slots
	}
	slot := 100 / float64(max(slots, 1))
	for i, bar := range ch.Bars {
		h := 0
		if top > 0 && bar.Value > 0 {
			h = max(int(float64(bar.Value)/float64(top)*chartPlotHeight+0.5), 1)
		}
		at := i
		if ch.Slots > 0 {
			at = bar.Slot
		}
		fmt.Fprintf(b, `<rect class="bar" x="%.3f%%" y="%d" width="%.3f%%" height="%d"><title>%s: %s</title></rect>`,
			float64(at)*slot+slot*0.15, base-h, slot*0.7, h, chartText(bar.Label), chartText(bar.Text))
	}
	start, end := ch.AxisStart, ch.AxisEnd
	if start == "" && n > 0 {
		start = ch.Bars[0].Label
	}
	if end == "" && n > 1 {
		end = ch.Bars[n-1].Label
	}
	if start != "" {
		fmt.Fprintf(b, `<text class="chart-label" x="0" y="%d">%s</text>`, base+26, chartText(start))
	}
	if end != "" && end != start {
		fmt.Fprintf(b, `<text class="chart-label" x="100%%" y="%d" text-anchor="end">%s</text>`, base+26, chartText(end))
	}
}

// Desc sums the chart up in words: how many bars, the highest and the
// lowest, the total.
func (ch barChart) Desc() string {
	n := len(ch.Bars)
	if n == 0 {
		return "No data: nothing to show for this period."
	}
	hi, _ := ch.highest()
	lo := ch.Bars[0]
	for _, bar := range ch.Bars {
		if bar.Value < lo.Value {
			lo = bar
		}
	}
	s := fmt.Sprintf("%d %s. Highest: %s, %s.", n, ch.Noun, hi.Label, hi.Text)
	if n > 1 {
		s += fmt.Sprintf(" Lowest: %s, %s.", lo.Label, lo.Text)
	}
	if ch.Total != "" {
		s += " Total: " + ch.Total + "."
	}
	return s + " The table lists every value."
}

func (ch barChart) highest() (chartBar, bool) {
	if len(ch.Bars) == 0 {
		return chartBar{}, false
	}
	hi := ch.Bars[0]
	for _, bar := range ch.Bars {
		if bar.Value > hi.Value {
			hi = bar
		}
	}
	return hi, true
}

// top is the value a full-length bar stands for.
func (ch barChart) top() int64 {
	hi, _ := ch.highest()
	return max(hi.Value, 0)
}

// chartPct is v's share of top as a percentage, with three decimals; a value
// above 0 shows at least a sliver.
func chartPct(v, top int64) string {
	if v <= 0 || top <= 0 {
		return "0"
	}
	return fmt.Sprintf("%.3f", max(float64(v)/float64(top)*100, 0.5))
}

// chartCut shortens a label to chartLabelRunes.
func chartCut(s string) string {
	if utf8.RuneCountInString(s) <= chartLabelRunes {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:chartLabelRunes-1])) + "…"
}

// chartText escapes s as XML character data (and attribute text).
func chartText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}
