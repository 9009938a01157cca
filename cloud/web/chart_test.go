package web

import (
	"encoding/xml"
	"strings"
	"testing"
)

// svgDoc is what the tests read back from a chart.
type svgDoc struct {
	Role  string `xml:"role,attr"`
	Title string `xml:"title"`
	Desc  string `xml:"desc"`
	Rects []struct {
		Class string `xml:"class,attr"`
		Width string `xml:"width,attr"`
		Title string `xml:"title"`
	} `xml:"rect"`
	Texts []string `xml:"text"`
}

func parseChart(t *testing.T, ch barChart) svgDoc {
	t.Helper()
	var doc svgDoc
	if err := xml.Unmarshal([]byte(ch.SVG()), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, ch.SVG())
	}
	return doc
}

func bars(doc svgDoc) (n int, widths []string) {
	for _, r := range doc.Rects {
		if r.Class == "bar" {
			n++
			widths = append(widths, r.Width)
		}
	}
	return n, widths
}

// TestChartSVG: a chart is well-formed XML, an image with a title and a
// description that sums it up, a bar per row scaled to the largest, and
// every label, however hostile, is text.
func TestChartSVG(t *testing.T) {
	hostile := `Sales & <script>alert("x")</script> ]]> "quoted"`
	rows := barChart{ID: "chart-EUR", Title: "Spend in EUR by site", Noun: "sites", Total: "EUR 40.00", Bars: []chartBar{
		{Label: "Berlin", Value: 3000, Text: "EUR 30.00"},
		{Label: hostile, Value: 1000, Text: "EUR 10.00"},
		{Label: "Empty", Value: 0, Text: "EUR 0.00"},
	}}
	doc := parseChart(t, rows)
	if doc.Role != "img" || doc.Title != rows.Title {
		t.Fatalf("role %q title %q", doc.Role, doc.Title)
	}
	if want := "3 sites. Highest: Berlin, EUR 30.00. Lowest: Empty, EUR 0.00. Total: EUR 40.00."; !strings.HasPrefix(doc.Desc, want) {
		t.Errorf("desc %q, want it to start %q", doc.Desc, want)
	}
	n, widths := bars(doc)
	if n != 3 || strings.Join(widths, " ") != "100.000% 33.333% 0%" {
		t.Errorf("%d bars of widths %q, want 3 of 100%%, 33.333%% and 0%%", n, widths)
	}
	if !strings.Contains(strings.Join(doc.Texts, "|"), `|Sales & <script>alert("x"…|`) {
		t.Errorf("the hostile label is not text cut to length: %q", doc.Texts)
	}
	if strings.Contains(string(rows.SVG()), "<script") {
		t.Errorf("a label became markup")
	}
	if !strings.Contains(doc.Rects[3].Title, hostile) {
		t.Errorf("the bar's own title %q lacks the whole label", doc.Rects[3].Title)
	}

	days := barChart{ID: "chart-days", Title: "Spend by day", Noun: "days", Columns: true}
	for _, d := range []string{"2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"} {
		days.Bars = append(days.Bars, chartBar{Label: d, Value: int64(len(days.Bars)+1) * 100, Text: "x"})
	}
	doc = parseChart(t, days)
	if n, _ := bars(doc); n != 4 {
		t.Errorf("%d columns, want 4", n)
	}
	if got := strings.Join(doc.Texts, "|"); got != "Highest: x|2026-11-01|2026-11-04" {
		t.Errorf("texts %q", got)
	}

	// On a time axis of ten days, two bars stand at their days.
	gaps := barChart{ID: "chart-gaps", Title: "Spend by day", Noun: "days", Columns: true, Slots: 10,
		AxisStart: "1 Nov 2026", AxisEnd: "10 Nov 2026", Bars: []chartBar{{Label: "a", Value: 5, Slot: 0}, {Label: "b", Value: 10, Slot: 9}}}
	if svg := string(gaps.SVG()); !strings.Contains(svg, `x="1.500%"`) || !strings.Contains(svg, `x="91.500%"`) ||
		!strings.Contains(svg, ">1 Nov 2026</text>") || !strings.Contains(svg, ">10 Nov 2026</text>") {
		t.Errorf("bars not at their days, or the axis not labelled with the period:\n%s", svg)
	}

	empty := parseChart(t, barChart{ID: "chart-none", Title: "Nothing", Noun: "sites"})
	if n, _ := bars(empty); n != 0 || !strings.HasPrefix(empty.Desc, "No data") {
		t.Errorf("an empty chart: %d bars, desc %q", n, empty.Desc)
	}
}
