// Package qrsheet renders the QR codes attendees scan on meeting-room
// tables: a printable PDF of cut-out cards (PDF), the same cards as one SVG
// document (SVG), and one room's code as a PNG image (PNG). It does no
// HTTP and no storage: the admin dashboard gives it a Sheet and an
// io.Writer, so the same rooms always make the same bytes (no timestamps),
// which a handler can cache and ETag.
//
// Every code is encoded as the edge's `pantry edge qr` command encodes its
// PNGs (skip2/go-qrcode, error correction level M, a quiet zone of four
// modules), and printed so that the code itself is at least 4 cm across,
// which a phone reads from across a meeting-room table.
//
// Text is set in DejaVu Sans, embedded in the binary (fonts/, its licence
// beside it), because the PDF core fonts only cover Windows-1252 and
// room names do not ("Zürich", "Café Ø", "Переговорная"). DejaVu has no
// Chinese, Japanese or Korean glyphs: such names print as empty boxes.
package qrsheet

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strings"
	"unicode"

	"github.com/skip2/go-qrcode"
)

// Room is one card: a meeting room and the URL its code encodes (the
// room's qr_url).
type Room struct {
	Name  string
	Floor string // free text ("3", "Mezzanine"); may be empty
	URL   string
}

// Sheet is what a sheet prints: a title on every page (for example
// "Acme · Amsterdam HQ"), the line under each room's name, and the rooms,
// in any order. To print one floor, pass only that floor's rooms.
type Sheet struct {
	Title string
	// Instruction is the short line each card prints under the room's
	// name; empty means DefaultInstruction.
	Instruction string
	Rooms       []Room
}

// DefaultInstruction is the line printed on each card when
// Sheet.Instruction is empty.
const DefaultInstruction = "Scan to order drinks and snacks to this room"

// level is the error correction the edge's PNGs use: M restores 15% of a
// code, enough for a coffee stain, while keeping modules large.
const level = qrcode.Medium

// Paper is the paper size a PDF is laid out for. The zero value is A4.
type Paper int

// The paper sizes a PDF can be laid out for.
const (
	A4     Paper = iota // 210 × 297 mm
	Letter              // US Letter, 8.5 × 11 in
)

// ParsePaper reads a paper size as a query string names it: "a4" or
// "letter", in any case; empty means A4.
func ParsePaper(s string) (Paper, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "a4":
		return A4, nil
	case "letter":
		return Letter, nil
	}
	return 0, fmt.Errorf("unknown paper size %q: want a4 or letter", s)
}

// String names p as ParsePaper reads it.
func (p Paper) String() string {
	switch p {
	case A4:
		return "a4"
	case Letter:
		return "letter"
	}
	return fmt.Sprintf("Paper(%d)", int(p))
}

// floorGroup is the rooms of one floor, in the order they print.
type floorGroup struct {
	Heading string // "Floor 3", "Mezzanine", "Other rooms", or empty
	Rooms   []Room
}

// groups cleans the rooms' text and sorts them into floors: floors in
// natural order ("2" before "10"), rooms without a floor last, and rooms
// by name in natural order ("Room 9" before "Room 10") within a floor.
func groups(rooms []Room) []floorGroup {
	rs := make([]Room, len(rooms))
	for i, r := range rooms {
		rs[i] = Room{Name: clean(r.Name), Floor: clean(r.Floor), URL: r.URL}
	}
	slices.SortStableFunc(rs, func(a, b Room) int {
		return cmp.Or(compareFloors(a.Floor, b.Floor), naturalCompare(a.Name, b.Name), strings.Compare(a.URL, b.URL))
	})
	var gs []floorGroup
	for i, r := range rs {
		if i == 0 || r.Floor != rs[i-1].Floor {
			gs = append(gs, floorGroup{Heading: floorLabel(r.Floor)})
		}
		gs[len(gs)-1].Rooms = append(gs[len(gs)-1].Rooms, r)
	}
	if n := len(gs); n > 0 && gs[n-1].Heading == "" && n > 1 {
		gs[n-1].Heading = "Other rooms"
	}
	return gs
}

// compareFloors orders floors naturally, with the empty floor last.
func compareFloors(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return naturalCompare(a, b)
}

// floorLabel is how a card and a heading name a floor: "Floor 3" for a
// number, the floor's own name ("Mezzanine") otherwise.
func floorLabel(floor string) string {
	if n := strings.TrimPrefix(floor, "-"); n != "" && strings.IndexFunc(n, func(r rune) bool { return !isDigit(r) }) < 0 {
		return "Floor " + floor
	}
	return floor
}

// naturalCompare compares case-insensitively, and runs of digits by their
// value, so "Room 9" sorts before "Room 10"; ties fall back to a plain
// comparison, so the order is total.
func naturalCompare(a, b string) int {
	x, y := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	for len(x) > 0 && len(y) > 0 {
		if isDigit(x[0]) && isDigit(y[0]) {
			nx, ny := digitRun(x), digitRun(y)
			if c := compareNumbers(x[:nx], y[:ny]); c != 0 {
				return c
			}
			x, y = x[nx:], y[ny:]
			continue
		}
		if c := cmp.Compare(x[0], y[0]); c != 0 {
			return c
		}
		x, y = x[1:], y[1:]
	}
	return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(a, b))
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// digitRun is the length of the run of ASCII digits s starts with.
func digitRun(s []rune) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

// compareNumbers compares two runs of digits by value, of any length.
func compareNumbers(a, b []rune) int {
	trim := func(s []rune) []rune {
		for len(s) > 1 && s[0] == '0' {
			s = s[1:]
		}
		return s
	}
	a, b = trim(a), trim(b)
	return cmp.Or(cmp.Compare(len(a), len(b)), slices.Compare(a, b))
}

// clean makes text printable on one line: control characters and line
// breaks become spaces, runs of spaces one, and characters beyond the
// Basic Multilingual Plane (emoji) the replacement character "�": fpdf
// panics on them (go-pdf/fpdf#40), and DejaVu has no emoji anyway.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || unicode.IsSpace(r):
			return ' '
		case r > 0xFFFF:
			return unicode.ReplacementChar
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// encode encodes a room's URL as the edge does.
func encode(r Room) (*qrcode.QRCode, error) {
	if r.URL == "" {
		return nil, fmt.Errorf("QR code for room %q: it has no URL", r.Name)
	}
	q, err := qrcode.New(r.URL, level)
	if err != nil {
		return nil, fmt.Errorf("QR code for room %q: %w", r.Name, err)
	}
	return q, nil
}

// darkRuns yields each horizontal run of dark modules as its first
// column, its row and its length: one rectangle per run rather than per
// module keeps the PDF and the SVG small.
func darkRuns(m [][]bool) iter.Seq2[[2]int, int] {
	return func(yield func([2]int, int) bool) {
		for y, row := range m {
			for x := 0; x < len(row); {
				if !row[x] {
					x++
					continue
				}
				start := x
				for x < len(row) && row[x] {
					x++
				}
				if !yield([2]int{start, y}, x-start) {
					return
				}
			}
		}
	}
}
