package qrsheet

import (
	"fmt"
	"io"
)

// PNG writes one room's code as a square PNG image sizePx pixels wide,
// quiet zone included, with nothing else on it: the page that shows it
// names the room, and a code alone fits any card or sign a facility
// designs itself. It is the image `pantry edge qr` writes for the room.
// A size smaller than the code's modules gives the smallest image that
// holds them, one pixel a module.
func PNG(w io.Writer, r Room, sizePx int) error {
	if sizePx <= 0 {
		return fmt.Errorf("QR code for room %q: size %d px: want a positive size", r.Name, sizePx)
	}
	q, err := encode(r)
	if err != nil {
		return err
	}
	if err := q.Write(sizePx, w); err != nil {
		return fmt.Errorf("write PNG for room %q: %w", r.Name, err)
	}
	return nil
}
