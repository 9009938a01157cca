package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/pantry/pantry/edge/sqlite"
)

// TestQRCardsDecodeToRoomURLs decodes every printed QR code with an
// independent decoder and finds each room's URL.
func TestQRCardsDecodeToRoomURLs(t *testing.T) {
	ctx := context.Background()
	dir, out := t.TempDir(), t.TempDir()
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.SeedDemo(ctx)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	args := []string{"pantry", "edge", "qr", "--data", dir, "--out", out, "--public-url", "http://10.0.0.5:8080/"}
	if err := run(ctx, args, func(string) string { return "" }, &stdout, &stdout); err != nil {
		t.Fatalf("pantry edge qr: %v", err)
	}
	index, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, room := range d.Rooms {
		f, err := os.Open(filepath.Join(out, fileName(room.Name)+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", room.Name, err)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("%s: QR code does not decode: %v", room.Name, err)
		}
		if got, want := res.GetText(), "http://10.0.0.5:8080/q/"+room.Code; got != want {
			t.Errorf("%s: QR says %q, want %q", room.Name, got, want)
		}
		if !strings.Contains(string(index), room.Name) {
			t.Errorf("index.html does not name %s", room.Name)
		}
	}
}
