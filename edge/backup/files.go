package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pantry/pantry/edge/sqlite"
)

// The file handling both directions share: a file is written whole to a
// temporary name, synced, then renamed, and its directory synced, so that
// a crash leaves either the old state or the new, never half a file.

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// isGzip reports whether the file at path starts like a gzip stream.
func isGzip(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(gzipMagic))
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return false, err
	}
	return bytes.Equal(head[:n], gzipMagic), nil
}

// copyTo writes src's bytes, inflated when gunzip is set, into a new
// private file at dst, synced. A gzip stream that does not inflate is a
// sqlite.ErrInvalidDatabase: the backup is damaged.
func copyTo(ctx context.Context, dst, src string, gunzip bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	var r io.Reader = bufio.NewReader(ctxReader{ctx, in})
	if gunzip {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("%w: %s is not a valid gzip file: %v", sqlite.ErrInvalidDatabase, src, err)
		}
		defer zr.Close()
		r = zr
	}
	tr := &readErrors{r: r}
	err = writeFile(dst, func(w io.Writer) error {
		_, err := io.Copy(w, tr)
		return err
	})
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if gunzip && tr.err != nil {
		return fmt.Errorf("%w: %s does not inflate: %v", sqlite.ErrInvalidDatabase, src, tr.err)
	}
	return err
}

// ctxReader stops reading once ctx ends: a restore of a large backup
// can be interrupted.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// readErrors remembers its reader's failure, to tell a damaged source
// from a destination that cannot be written.
type readErrors struct {
	r   io.Reader
	err error
}

func (t *readErrors) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// writeFile writes the file at dst (created private to this user if it
// is new: a node's database holds its credential) with fill and syncs
// it. A file that fails is removed.
func writeFile(dst string, fill func(io.Writer) error) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

// compress writes src gzipped into a new file at dst and returns the
// SHA-256 of src's bytes.
func compress(ctx context.Context, dst, src string) (sum []byte, err error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	h := sha256.New()
	err = writeFile(dst, func(w io.Writer) error {
		zw := gzip.NewWriter(w)
		if _, err := io.Copy(zw, io.TeeReader(ctxReader{ctx, in}, h)); err != nil {
			return err
		}
		return zw.Close()
	})
	return h.Sum(nil), err
}

// checkGzip inflates the gzip file at path and checks that it holds the
// bytes whose SHA-256 is want: what was written reads back.
func checkGzip(ctx context.Context, path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(ctxReader{ctx, f}))
	if err != nil {
		return fmt.Errorf("the compressed copy does not read back: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return fmt.Errorf("the compressed copy does not read back: %w", err)
	}
	if !bytes.Equal(h.Sum(nil), want) {
		return fmt.Errorf("the compressed copy reads back different bytes")
	}
	return nil
}

// fileSum is the size and SHA-256 (hex) of the file at path.
func fileSum(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// syncDir syncs a directory, so that the renames in it survive a power
// loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// tempFile creates a new, empty file beside path, private to this user,
// and returns its name: the caller fills it, and removes it if it is not
// renamed.
func tempFile(path string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	name := f.Name()
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}
