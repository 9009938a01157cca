package qrsheettest_test

import (
	"bytes"
	"image/png"
	"slices"
	"testing"

	"github.com/pantry/pantry/cloud/qrsheet"
	"github.com/pantry/pantry/cloud/qrsheet/qrsheettest"
)

// TestDecodePDF reads back a sheet of three rooms on two floors: one page
// a floor, each room's URL once, at error correction M; and one room's
// PNG.
func TestDecodePDF(t *testing.T) {
	t.Parallel()
	s := qrsheet.Sheet{Title: "Acme · HQ", Rooms: []qrsheet.Room{
		{Name: "Oslo", Floor: "1", URL: "https://pantry.example.com/q/oslo"},
		{Name: "Lisboa", Floor: "2", URL: "https://pantry.example.com/q/lisboa"},
		{Name: "Kraków", Floor: "2", URL: "https://pantry.example.com/q/krakow"},
	}}
	var pdf bytes.Buffer
	if err := qrsheet.PDF(&pdf, s, qrsheet.A4); err != nil {
		t.Fatal(err)
	}
	pages := qrsheettest.DecodePDF(t, pdf.Bytes(), 150)
	var got [][]string
	for _, codes := range pages {
		var texts []string
		for _, c := range codes {
			if c.Level != "M" {
				t.Errorf("%s: level %q, want M", c.Text, c.Level)
			}
			if mm := c.SizePx / 150 * 25.4; mm < 40 {
				t.Errorf("%s: %.1f mm across, want at least 40", c.Text, mm)
			}
			texts = append(texts, c.Text)
		}
		slices.Sort(texts)
		got = append(got, texts)
	}
	want := [][]string{{"https://pantry.example.com/q/oslo"}, {"https://pantry.example.com/q/krakow", "https://pantry.example.com/q/lisboa"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("codes by page = %q, want %q", got, want)
	}
	var img bytes.Buffer
	if err := qrsheet.PNG(&img, s.Rooms[0], 300); err != nil {
		t.Fatal(err)
	}
	decoded, err := png.Decode(&img)
	if err != nil {
		t.Fatal(err)
	}
	if codes := qrsheettest.Decode(t, qrsheettest.GreyOf(decoded)); len(codes) != 1 || codes[0].Text != s.Rooms[0].URL {
		t.Errorf("the PNG decodes to %+v, want %s", codes, s.Rooms[0].URL)
	}
	if _, err := qrsheettest.ReadPGM([]byte("P6 1 1 255\n\x00\x00\x00")); err == nil {
		t.Error("ReadPGM read a colour pixmap as a greymap")
	}
}
