package syncproto

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrBodyTooLarge is returned by Decode for a body over MaxBodyBytes, or
// one that inflates past MaxDecodedBytes.
var ErrBodyTooLarge = errors.New("sync message is too large")

// Encode marshals v as JSON, gzip-compressed when compress is set (the
// sender then says Content-Encoding: gzip).
func Encode(v any, compress bool) ([]byte, error) {
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if compress {
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed) // the level is valid: no error
		w = zw
	}
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return nil, fmt.Errorf("encode sync message: %w", err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("encode sync message: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// Decode unmarshals a body into v, inflating it first when gzipped is
// set. A message in a version this side does not speak is a
// *VersionError, found before anything else (a newer version may have
// fields this one does not know); otherwise unknown fields and anything
// after the JSON value are refused. It does not validate.
func Decode(body []byte, gzipped bool, v any) error {
	if len(body) > MaxBodyBytes {
		return ErrBodyTooLarge
	}
	var r io.Reader = bytes.NewReader(body)
	if gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("decode sync message: gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	lr := &io.LimitedReader{R: r, N: MaxDecodedBytes + 1}
	data, err := io.ReadAll(lr)
	if err != nil {
		return fmt.Errorf("decode sync message: %w", err)
	}
	if lr.N <= 0 {
		return ErrBodyTooLarge
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return errors.New("decode sync message: unexpected data after the JSON value")
		}
		return nil
	}
	// Only a message that does not decode is read a second time, for its
	// version: a newer version's fields are not errors but a version
	// this side does not speak. (Reading the version first would cost a
	// third pass over every push.)
	var head struct {
		Version *int `json:"version"`
	}
	if json.Unmarshal(data, &head) == nil && head.Version != nil && (*head.Version < MinVersion || *head.Version > Version) {
		return &VersionError{Got: *head.Version}
	}
	return fmt.Errorf("decode sync message: %w", err)
}
