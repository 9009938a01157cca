package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/pantry/pantry/internal/pantry"
)

// Password policy bounds. The minimum follows NIST SP 800-63B's advice to
// favour length over composition rules; the maximum only bounds the work a
// single login request can cause, and is far above any human password.
const (
	MinPasswordChars = 12
	MaxPasswordBytes = 256
)

// ErrPasswordMismatch is returned by CheckPassword for a wrong password. Its
// message deliberately does not say whether the email or the password was
// wrong, so a login form cannot be used to find out who has an account.
var ErrPasswordMismatch = pantry.Errorf(pantry.EUNAUTHORIZED, "invalid email or password")

// PasswordParams are the argon2id cost parameters. They are recorded in
// every hash (PHC format), so changing them affects only new hashes; old
// ones keep verifying and NeedsRehash tells the store to upgrade them at the
// user's next successful login.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultPasswordParams returns the parameters HashPassword uses: OWASP's
// first argon2id recommendation (19 MiB, 2 passes, 1 lane). On this
// project's 2-core reference machine one hash takes about 30 ms and 19 MiB,
// so two cores hash roughly 60 logins a second; more memory or passes would
// buy little against offline cracking while making a login flood cheaper to
// mount. One lane, because a server's cores are better spent on concurrent
// logins than on one. The API should still bound how many hashes run at
// once, since each holds its memory until done.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds accepted when parsing a stored hash. A corrupt or hostile row must
// produce an error, never a panic inside argon2 or a multi-gigabyte
// allocation.
const (
	maxHashMemory = 1 << 20 // KiB: 1 GiB
	maxHashTime   = 64
	minSaltLen    = 8
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 64
)

// HashPassword hashes pw with argon2id and DefaultPasswordParams, returning
// a PHC string: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(pw string) (string, error) {
	return DefaultPasswordParams().Hash(pw)
}

// Hash hashes pw with argon2id and p under a fresh random salt. Tests of
// other packages may pass cheap parameters; production uses HashPassword.
func (p PasswordParams) Hash(pw string) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails on supported platforms.
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

// CheckPassword reports whether pw matches hash: nil if it does,
// ErrPasswordMismatch if it does not, and an error without a domain code
// (shown to clients as "internal error") if hash is not a valid argon2id PHC
// string, since that is a bug or a corrupt row, not a wrong password.
func CheckPassword(hash, pw string) error {
	p, salt, want, err := parsePHC(hash)
	if err != nil {
		return err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrPasswordMismatch
	}
	return nil
}

// CheckDummyPassword spends the time and memory of a real CheckPassword
// against a default-parameter hash, then returns ErrPasswordMismatch. The
// store calls it when a login names an email with no account, so the
// response time does not tell an attacker which emails are registered.
func CheckDummyPassword(pw string) error {
	return DefaultPasswordParams().CheckDummy(pw)
}

// CheckDummy is CheckDummyPassword for hashes made with p.
func (p PasswordParams) CheckDummy(pw string) error {
	if p.validate() == nil {
		salt := make([]byte, p.SaltLen)
		_ = argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	}
	return ErrPasswordMismatch
}

// NeedsRehash reports whether hash was made with parameters other than p
// (or cannot be parsed), so the store can replace it after a successful
// login, the only moment the plaintext is at hand.
func (p PasswordParams) NeedsRehash(hash string) bool {
	got, salt, key, err := parsePHC(hash)
	return err != nil || got.Memory != p.Memory || got.Time != p.Time || got.Threads != p.Threads ||
		uint32(len(salt)) != p.SaltLen || uint32(len(key)) != p.KeyLen
}

// ValidatePassword applies the password policy to a new password: at least
// MinPasswordChars characters, at most MaxPasswordBytes bytes, valid UTF-8,
// and not only whitespace. It returns EINVALID errors meant for the user.
// It is not applied at login, so tightening the policy never locks anyone out.
func ValidatePassword(pw string) error {
	switch {
	case len(pw) > MaxPasswordBytes:
		return pantry.Errorf(pantry.EINVALID, "password must be at most %d bytes", MaxPasswordBytes)
	case !utf8.ValidString(pw):
		return pantry.Errorf(pantry.EINVALID, "password must be valid UTF-8")
	case utf8.RuneCountInString(pw) < MinPasswordChars:
		return pantry.Errorf(pantry.EINVALID, "password must be at least %d characters", MinPasswordChars)
	case strings.TrimFunc(pw, unicode.IsSpace) == "":
		return pantry.Errorf(pantry.EINVALID, "password must not be only whitespace")
	}
	return nil
}

func (p PasswordParams) validate() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxHashMemory:
		return fmt.Errorf("argon2id memory %d KiB out of range", p.Memory)
	case p.Time < 1 || p.Time > maxHashTime:
		return fmt.Errorf("argon2id time %d out of range", p.Time)
	case p.Threads < 1:
		return errors.New("argon2id needs at least one thread")
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2id salt length %d out of range", p.SaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2id key length %d out of range", p.KeyLen)
	}
	return nil
}

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding.Strict()

func encodePHC(p PasswordParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// errMalformedHash is deliberately uncoded: a hash that does not parse is a
// server fault, and its details must not reach a client.
var errMalformedHash = errors.New("malformed argon2id password hash")

// parsePHC parses $argon2id$v=19$m=M,t=T,p=P$salt$key strictly: exactly
// these fields in this order, decimal numbers without signs (ParseUint
// refuses them) or leading zeros, and every parameter within the bounds validate accepts.
func parsePHC(s string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	f := strings.Split(s, "$")
	// encoding/base64 skips \r and \n even in strict mode; refuse them so a
	// hash has one spelling.
	if strings.ContainsAny(s, "\r\n") || len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errMalformedHash
	}
	m, t, threads, ok := parseCost(f[3])
	if !ok || threads > 255 {
		return p, nil, nil, errMalformedHash
	}
	salt, err1 := b64.DecodeString(f[4])
	key, err2 := b64.DecodeString(f[5])
	if err1 != nil || err2 != nil {
		return p, nil, nil, errMalformedHash
	}
	p = PasswordParams{Memory: m, Time: t, Threads: uint8(threads), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if p.validate() != nil {
		return p, nil, nil, errMalformedHash
	}
	return p, salt, key, nil
}

// parseCost parses "m=M,t=T,p=P".
func parseCost(s string) (m, t, p uint32, ok bool) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	vals := make([]uint32, 3)
	for i, name := range []string{"m=", "t=", "p="} {
		v, found := strings.CutPrefix(parts[i], name)
		n, err := strconv.ParseUint(v, 10, 32)
		if !found || err != nil || v == "" || (v[0] == '0' && len(v) > 1) {
			return 0, 0, 0, false
		}
		vals[i] = uint32(n)
	}
	return vals[0], vals[1], vals[2], true
}
