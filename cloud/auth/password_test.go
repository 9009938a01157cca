package auth

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// cheap are argon2id parameters that cost microseconds, so the tests of
// everything but the real parameters stay fast (and fast under -race).
var cheap = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashPasswordDefaultParams(t *testing.T) {
	t.Parallel()
	start := time.Now()
	hash, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("argon2id with default params: %v", time.Since(start))
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(hash, want) {
		t.Fatalf("hash=%q, want prefix %q", hash, want)
	}
	if err := CheckPassword(hash, "correct horse battery staple"); err != nil {
		t.Fatalf("CheckPassword(right password)=%v, want nil", err)
	}
	if err := CheckPassword(hash, "correct horse battery stapler"); !errors.Is(err, ErrPasswordMismatch) {
		t.Fatalf("CheckPassword(wrong password)=%v, want ErrPasswordMismatch", err)
	}
	if DefaultPasswordParams().NeedsRehash(hash) {
		t.Fatal("NeedsRehash(default hash)=true, want false")
	}
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	hash, err := cheap.Hash("päss wörd 1234 ✓")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, pw string
		want     error
	}{
		{"Right", "päss wörd 1234 ✓", nil},
		{"Wrong", "päss wörd 1234 x", ErrPasswordMismatch},
		{"Empty", "", ErrPasswordMismatch},
		{"Prefix", "päss wörd 1234", ErrPasswordMismatch},
		{"TrailingSpace", "päss wörd 1234 ✓ ", ErrPasswordMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckPassword(hash, tc.pw); got != tc.want {
				t.Fatalf("CheckPassword=%v, want %v", got, tc.want)
			}
		})
	}
	if got, want := pantry.ErrorCode(ErrPasswordMismatch), pantry.EUNAUTHORIZED; got != want {
		t.Fatalf("mismatch code=%q, want %q", got, want)
	}
}

func TestHashPasswordSalted(t *testing.T) {
	t.Parallel()
	a, _ := cheap.Hash("same password here")
	b, _ := cheap.Hash("same password here")
	if a == b {
		t.Fatalf("two hashes of one password are equal (%q): salt is not random", a)
	}
}

func TestHashRejectsBadParams(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]PasswordParams{
		"ZeroThreads": {Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32},
		"ZeroTime":    {Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		"TinyMemory":  {Memory: 7, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		"ShortSalt":   {Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		"ShortKey":    {Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8},
		"HugeMemory":  {Memory: 1<<20 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := p.Hash("a fine password"); err == nil {
				t.Fatal("Hash accepted bad parameters")
			}
		})
	}
}

func TestCheckPasswordMalformedHash(t *testing.T) {
	t.Parallel()
	good, _ := cheap.Hash("a fine password")
	f := strings.Split(good, "$") // "", argon2id, v=19, m=64,t=1,p=1, salt, key
	salt, key := f[4], f[5]
	for _, tc := range []struct{ name, hash string }{
		{"Empty", ""},
		{"Bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"Argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"Version16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"NoVersion", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"ExtraField", good + "$x"},
		{"MissingKey", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"NoLeadingDollar", strings.TrimPrefix(good, "$")},
		{"ZeroThreads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"ThreadsOver255", "$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key},
		{"ZeroTime", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"ZeroMemory", "$argon2id$v=19$m=0,t=1,p=1$" + salt + "$" + key},
		{"HugeMemory", "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key},
		{"HugeTime", "$argon2id$v=19$m=64,t=100000,p=1$" + salt + "$" + key},
		{"Overflow", "$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + key},
		{"Negative", "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key},
		{"Plus", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"LeadingZero", "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key},
		{"Reordered", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"MissingParam", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"Padded", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"URLAlphabet", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.NewReplacer("+", "-", "/", "_").Replace(key) + "-_"},
		{"ShortSalt", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key},
		{"ShortKey", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$a2V5"},
		{"EmptyKey", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPassword(tc.hash, "a fine password")
			if err == nil {
				t.Fatal("CheckPassword accepted a malformed hash")
			}
			// A broken hash is a server fault: never "wrong password", and
			// never a message with details for the client.
			if got, want := pantry.ErrorCode(err), pantry.EINTERNAL; got != want {
				t.Fatalf("code=%q, want %q (err %v)", got, want, err)
			}
			if !cheap.NeedsRehash(tc.hash) {
				t.Fatal("NeedsRehash(malformed)=false, want true")
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	hash, _ := cheap.Hash("a fine password")
	if cheap.NeedsRehash(hash) {
		t.Fatal("NeedsRehash(same params)=true")
	}
	for name, p := range map[string]PasswordParams{
		"Memory": {Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		"Time":   {Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
		"Salt":   {Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32},
		"Key":    {Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64},
	} {
		if !p.NeedsRehash(hash) {
			t.Errorf("%s changed: NeedsRehash=false, want true", name)
		}
	}
}

func TestCheckDummy(t *testing.T) {
	t.Parallel()
	if err := cheap.CheckDummy("whatever anyone types"); err != ErrPasswordMismatch {
		t.Fatalf("CheckDummy=%v, want ErrPasswordMismatch", err)
	}
	if err := (PasswordParams{}).CheckDummy("x"); err != ErrPasswordMismatch {
		t.Fatalf("CheckDummy with zero params=%v, want ErrPasswordMismatch", err)
	}
}

// TestCheckDummyPasswordCostsAsMuch checks the dummy check of an unknown
// user spends what a real check of a real user does: the point of it.
// argon2's cost is its memory (and passes over it), so the test compares
// the bytes each check allocates, which no load on the machine changes,
// rather than their durations.
func TestCheckDummyPasswordCostsAsMuch(t *testing.T) {
	hash, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	check := allocated(func() { _ = CheckPassword(hash, "wrong password guess") })
	dummy := allocated(func() { _ = CheckDummyPassword("wrong password guess") })
	t.Logf("CheckPassword allocated %d bytes, CheckDummyPassword %d", check, dummy)
	if want := uint64(DefaultPasswordParams().Memory) * 1024; check < want || dummy < want || dummy < check*9/10 || dummy > check*11/10 {
		t.Fatalf("dummy check allocated %d bytes, real check %d: want both about %d", dummy, check, want)
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pw string
		ok       bool
	}{
		{"Twelve", "abcdefghijkl", true},
		{"Eleven", "abcdefghijk", false},
		{"Empty", "", false},
		{"TwelveRunes", "ääääääääääää", true}, // 24 bytes, 12 characters
		{"ElevenRunesManyBytes", "ääääääääääö", false},
		{"Emoji", "🍩🍩🍩🍩🍩🍩🍩🍩🍩🍩🍩🍩", true},
		{"Spaces", "            ", false},
		{"MixedWhitespace", " \t\n\r\u00a0\u2003     \t\t", false},
		{"SpacesInside", "correct horse battery", true},
		{"MaxBytes", strings.Repeat("a", MaxPasswordBytes), true},
		{"TooLong", strings.Repeat("a", MaxPasswordBytes+1), false},
		{"InvalidUTF8", "abcdefghijkl\xff", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePassword(tc.pw)
			if tc.ok && err != nil {
				t.Fatalf("ValidatePassword=%v, want nil", err)
			}
			if !tc.ok && pantry.ErrorCode(err) != pantry.EINVALID {
				t.Fatalf("ValidatePassword=%v, want an %s error", err, pantry.EINVALID)
			}
		})
	}
}

// FuzzParsePHC checks that no stored string makes the parser panic, and
// that whatever it accepts is within bounds and in the one canonical
// spelling (so a hash cannot be altered without changing what it says).
func FuzzParsePHC(f *testing.F) {
	good, _ := cheap.Hash("a fine password")
	f.Add(good)
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U")
	f.Add("$argon2id$v=19$m=0,t=0,p=0$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parsePHC(s)
		if err != nil {
			return
		}
		if p.validate() != nil {
			t.Fatalf("accepted out-of-bounds params %+v", p)
		}
		if got := encodePHC(p, salt, key); got != s {
			t.Fatalf("accepted non-canonical %q (canonical %q)", s, got)
		}
	})
}
