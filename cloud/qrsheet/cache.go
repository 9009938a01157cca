package qrsheet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Cache keeps the PDFs of the sheets made most recently. A PDF is a pure
// function of its sheet and paper (the same input always makes the same
// bytes), so an entry is found by the hash of exactly that input and is
// never stale: a renamed or rotated room is a different sheet. Making one
// costs tens of milliseconds (every code's eight masks, the font's
// subset); a sheet is printed again and again, floor by floor.
//
// The cached bytes are shared: callers must not change them.
type Cache struct {
	pdfs *lru.Cache[[sha256.Size]byte, []byte]
}

// NewCache keeps up to n PDFs (a sheet of 20 rooms is about 60 KiB).
func NewCache(n int) (*Cache, error) {
	c, err := lru.New[[sha256.Size]byte, []byte](n)
	if err != nil {
		return nil, fmt.Errorf("QR sheet cache: %w", err)
	}
	return &Cache{pdfs: c}, nil
}

// PDF returns PDF(s, paper)'s bytes, made once for each sheet and paper.
func (c *Cache) PDF(s Sheet, paper Paper) ([]byte, error) {
	key := sheetKey(s, paper)
	if b, ok := c.pdfs.Get(key); ok {
		return b, nil
	}
	var buf bytes.Buffer
	if err := PDF(&buf, s, paper); err != nil {
		return nil, err
	}
	c.pdfs.Add(key, buf.Bytes())
	return buf.Bytes(), nil
}

// sheetKey hashes everything PDF's output depends on, byte for byte:
// each string length-prefixed, so that no two inputs share a key.
func sheetKey(s Sheet, paper Paper) [sha256.Size]byte {
	h := sha256.New()
	put := func(v string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write([]byte(v))
	}
	put(paper.String())
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
