package pantry

import (
	"crypto/rand"
	"encoding/base64"

	"github.com/google/uuid"
)

// NewID returns a new UUIDv7: time-ordered, so ids made offline on an edge
// sort and index well, and never need the cloud to name anything.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ValidID reports whether s is a canonical UUID string.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// NewSecret returns n random bytes encoded as unpadded base64url: session
// tokens, QR codes and passwords.
func NewSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return base64.RawURLEncoding.EncodeToString(b)
}
