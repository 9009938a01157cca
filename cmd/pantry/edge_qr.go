package main

import (
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge/tlsca"
)

// newEdgeQRCmd writes the table cards a technician prints: one QR code PNG
// per room and a printable index.html. The QR encoder is a library
// (skip2/go-qrcode): Reed-Solomon and masking are not code to own.
func newEdgeQRCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var dir, out, base string
	cmd := &cobra.Command{Use: "qr", Short: "Write a QR code PNG per room and a printable index.html"}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &dir, "data directory")
	e.String(&base, "public-url", "PANTRY_PUBLIC_URL", "", "base URL phones reach the node at, e.g. https://10.1.2.3:8443 (default: the one the node last served at)")
	cmd.Flags().StringVar(&out, "out", "qr", "directory to write the images to")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if base == "" {
			s, ok, err := tlsca.ReadServing(dir)
			if err != nil {
				return err
			}
			if !ok || s.PublicURL == "" {
				return fmt.Errorf("pass --public-url with the address phones on the office Wi-Fi reach this node at (no node has served from %s yet to tell it)", dir)
			}
			base = s.PublicURL
			fmt.Fprintf(cmd.ErrOrStderr(), "Using the URL the node last served at (%s): %s\n", s.StartedAt.Format(time.RFC3339), base)
		}
		s, err := openExisting(cmd, dir)
		if err != nil {
			return err
		}
		defer s.Close()
		spaces, err := s.Spaces(cmd.Context())
		if err != nil {
			return err
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", out, err)
		}
		type card struct{ Name, Floor, URL, File string }
		var cards []card
		for _, sp := range spaces {
			c := card{Name: sp.Name, Floor: sp.Floor, URL: strings.TrimRight(base, "/") + "/q/" + sp.Code, File: fileName(sp.Name) + ".png"}
			if err := qrcode.WriteFile(c.URL, qrcode.Medium, 512, filepath.Join(out, c.File)); err != nil {
				return fmt.Errorf("QR code for %s: %w", sp.Name, err)
			}
			cards = append(cards, c)
			fmt.Fprintf(stdout, "%s\t%s\n", filepath.Join(out, c.File), c.URL)
		}
		f, err := os.Create(filepath.Join(out, "index.html"))
		if err != nil {
			return fmt.Errorf("write index.html: %w", err)
		}
		defer f.Close()
		return cardsPage.Execute(f, cards)
	}
	return cmd
}

// fileName keeps letters and digits of a room's name for its file name.
func fileName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	if s := strings.Trim(b.String(), "-"); s != "" {
		return s
	}
	return "room"
}

var cardsPage = template.Must(template.New("cards").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pantry table cards</title>
<style>body{font-family:system-ui,sans-serif}.card{display:inline-block;width:9cm;margin:.5cm;padding:.5cm;border:1px dashed #999;text-align:center;page-break-inside:avoid}img{width:7cm;height:7cm}h2{margin:.2cm 0}</style>
</head><body>
{{range .}}<div class="card"><h2>{{.Name}}</h2><p>Scan to order drinks and snacks to this room</p><img src="{{.File}}" alt="QR code for {{.Name}}"><p><small>{{.URL}}</small></p></div>
{{end}}</body></html>
`))
