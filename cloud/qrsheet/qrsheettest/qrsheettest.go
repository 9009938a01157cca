// Package qrsheettest reads printed QR codes back for tests, with parts
// independent of the ones that drew them: poppler's pdftoppm renders a
// PDF's pages as a printer would, and gozxing's multi-code reader finds
// and decodes every code on a page. A test of anything that hands out
// QR sheets (the dashboard's downloads) checks what a phone would read,
// not what our writer meant to write. The helpers are the ones
// cloud/qrsheet's own tests use, made public.
//
// poppler-utils must be installed (apt-get install poppler-utils): a
// machine without it fails the test and says so, rather than skipping
// it, so CI cannot quietly stop checking that the printed codes scan.
package qrsheettest

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	multiqr "github.com/makiuchi-d/gozxing/multi/qrcode"
)

// Code is a QR code found on a page.
type Code struct {
	Text string
	// Level is the error correction level, "L", "M", "Q" or "H".
	Level string
	// SizePx is the code's width in pixels, its quiet zone excluded.
	SizePx float64
}

// Grey is an image in grey, a byte a pixel, row by row: what gozxing
// reads, built without image.Image's At, which the race detector slows
// to seconds a page.
type Grey struct {
	Pix  []byte
	W, H int
}

// DecodePDF renders every page of pdf at dpi and returns the codes found
// on each page, pages in order.
func DecodePDF(tb testing.TB, pdf []byte, dpi int) [][]Code {
	tb.Helper()
	var pages [][]Code
	for _, g := range Rasterise(tb, pdf, dpi) {
		pages = append(pages, Decode(tb, g))
	}
	return pages
}

// Rasterise renders each page of pdf at dpi, in grey, with pdftoppm.
func Rasterise(tb testing.TB, pdf []byte, dpi int) []Grey {
	tb.Helper()
	dir := tb.TempDir()
	in := filepath.Join(dir, "sheet.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		tb.Fatal(err)
	}
	Run(tb, "pdftoppm", "-r", strconv.Itoa(dpi), "-gray", in, filepath.Join(dir, "page"))
	files, err := filepath.Glob(filepath.Join(dir, "page-*.pgm"))
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(files) // pdftoppm pads page numbers to the same width
	var pages []Grey
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		g, err := ReadPGM(b)
		if err != nil {
			tb.Fatalf("%s: %v", filepath.Base(f), err)
		}
		pages = append(pages, g)
	}
	if len(pages) == 0 {
		tb.Fatalf("pdftoppm rendered no page")
	}
	return pages
}

// Run runs one of poppler-utils' commands and returns its output, failing
// the test (saying how to install poppler) if it is missing or fails.
func Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s is not installed: apt-get install poppler-utils", name)
	}
	out, err := exec.Command(path, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			tb.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, ee.Stderr)
		}
		tb.Fatalf("%s: %v", name, err)
	}
	return string(out)
}

// ReadPGM reads the binary greymap ("P5") pdftoppm -gray writes.
func ReadPGM(b []byte) (Grey, error) {
	var g Grey
	var maxval int
	r := bytes.NewReader(b)
	var magic string
	if _, err := fmt.Fscan(r, &magic, &g.W, &g.H, &maxval); err != nil || magic != "P5" {
		return g, fmt.Errorf("read PGM header (magic %q): %v", magic, err)
	}
	if maxval != 255 {
		return g, fmt.Errorf("PGM of %d levels, want 255", maxval)
	}
	data := b[len(b)-r.Len()+1:] // one whitespace byte ends the header
	if len(data) != g.W*g.H {
		return g, fmt.Errorf("PGM of %d bytes, want %d × %d", len(data), g.W, g.H)
	}
	g.Pix = data
	return g, nil
}

// GreyOf converts img (a PNG, a screenshot) to grey, reading the pixels
// of an RGBA image directly.
func GreyOf(img image.Image) Grey {
	b := img.Bounds()
	g := Grey{Pix: make([]byte, 0, b.Dx()*b.Dy()), W: b.Dx(), H: b.Dy()}
	if rgba, ok := img.(*image.RGBA); ok && rgba.Stride == 4*b.Dx() {
		for p := rgba.Pix; len(p) >= 4; p = p[4:] {
			g.Pix = append(g.Pix, byte((int(p[0])+2*int(p[1])+int(p[2]))/4))
		}
		return g
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g.Pix = append(g.Pix, color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y)
		}
	}
	return g
}

// Decode finds and decodes every QR code in img.
func Decode(tb testing.TB, img Grey) []Code {
	tb.Helper()
	src, err := gozxing.NewPlanarYUVLuminanceSource(img.Pix, img.W, img.H, 0, 0, img.W, img.H, false)
	if err != nil {
		tb.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(src))
	if err != nil {
		tb.Fatal(err)
	}
	results, err := multiqr.NewQRCodeMultiReader().DecodeMultiple(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil && !errors.As(err, new(gozxing.NotFoundException)) {
		tb.Fatalf("decode: %v", err)
	}
	var out []Code
	for _, r := range results {
		level, _ := r.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
		out = append(out, Code{Text: r.GetText(), Level: level, SizePx: codeWidth(tb, r.GetResultPoints())})
	}
	return out
}

// codeWidth is a code's width from its three finder patterns: their
// centres are 3.5 modules in from the code's edges, so the side of the
// triangle they make is the width less 7 modules.
func codeWidth(tb testing.TB, points []gozxing.ResultPoint) float64 {
	tb.Helper()
	if len(points) < 3 {
		tb.Fatalf("a decoded code has %d finder patterns, want 3", len(points))
	}
	side := math.Inf(1)
	for i := range 3 {
		side = min(side, gozxing.ResultPoint_Distance(points[i], points[(i+1)%3]))
	}
	fp, ok := points[0].(interface{ GetEstimatedModuleSize() float64 })
	if !ok {
		tb.Fatalf("a finder pattern of type %T has no module size", points[0])
	}
	return side + 7*fp.GetEstimatedModuleSize()
}
