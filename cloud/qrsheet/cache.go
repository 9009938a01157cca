package qrsheet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Cache keeps the PDFs and SVGs of the sheets made most recently. Each is
// a pure function of its sheet and format (the same input always makes
// the same bytes), so an entry is found by the hash of exactly that input
// and is never stale: a renamed or rotated room is a different sheet.
// Making one costs tens of milliseconds (every code's eight masks, the
// font's subset); a sheet is printed again and again, floor by floor.
//
// The cached bytes are shared: callers must not change them.
type Cache struct {
	sheets *lru.Cache[[sha256.Size]byte, []byte]
}

// NewCache keeps up to n sheets (one of 20 rooms is about 60 KiB as a
// PDF, 100 KiB as an SVG).
func NewCache(n int) (*Cache, error) {
	c, err := lru.New[[sha256.Size]byte, []byte](n)
	if err != nil {
		return nil, fmt.Errorf("QR sheet cache: %w", err)
	}
	return &Cache{sheets: c}, nil
}

// PDF returns PDF(s, paper)'s bytes, made once for each sheet and paper.
func (c *Cache) PDF(s Sheet, paper Paper) ([]byte, error) {
	return c.get(sheetKey(s, "pdf "+paper.String()), func(w io.Writer) error { return PDF(w, s, paper) })
}

// SVG returns SVG(s)'s bytes, made once for each sheet.
func (c *Cache) SVG(s Sheet) ([]byte, error) {
	return c.get(sheetKey(s, "svg"), func(w io.Writer) error { return SVG(w, s) })
}

func (c *Cache) get(key [sha256.Size]byte, make func(io.Writer) error) ([]byte, error) {
	if b, ok := c.sheets.Get(key); ok {
		return b, nil
	}
	var buf bytes.Buffer
	if err := make(&buf); err != nil {
		return nil, err
	}
	c.sheets.Add(key, buf.Bytes())
	return buf.Bytes(), nil
}

// sheetKey hashes everything the output in format depends on, byte for
// byte: each string length-prefixed, so that no two inputs share a key.
func sheetKey(s Sheet, format string) [sha256.Size]byte {
	h := sha256.New()
	put := func(v string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write([]byte(v))
	}
	put(format)
	put(s.Title)
	put(s.Instruction)
	for _, r := range s.Rooms {
		put(r.Name)
		put(r.Floor)
		put(r.URL)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}
