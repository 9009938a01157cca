package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Key is one Ed25519 token-signing key, named by a random key id (the JWT
// kid header). A Key parsed from its public half only can verify but not
// sign, which is how a retired key can be kept without its secret.
//
// Ed25519 rather than RSA or ECDSA: small keys and signatures, fast, no
// parameters to get wrong, and deterministic signatures, so a weak random
// source at signing time cannot leak the key (as it can with ECDSA).
type Key struct {
	id      string
	private ed25519.PrivateKey // nil for a verify-only key
	public  ed25519.PublicKey
}

// NewKey returns a fresh signing key with a random 128-bit kid. A random
// kid, not a counter or a timestamp, because several instances may create
// keys and must never make two with the same name.
func NewKey() (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate signing key: %w", err)
	}
	kid := make([]byte, 16)
	_, _ = rand.Read(kid) // crypto/rand.Read never fails on supported platforms.
	return Key{id: base64.RawURLEncoding.EncodeToString(kid), private: priv, public: pub}, nil
}

// ID returns the key id, the kid header of every token the key signs.
func (k Key) ID() string { return k.id }

// CanSign reports whether k holds its private half.
func (k Key) CanSign() bool { return k.private != nil }

// Public returns the verify-only form of k: safe to keep after k retires,
// and all a verifier ever needs.
func (k Key) Public() Key { return Key{id: k.id, public: k.public} }

// keyJSON is the stored form of a Key. It is versioned so a later format
// (an encrypted seed, another algorithm) can be read next to this one.
type keyJSON struct {
	V    int    `json:"v"`
	Kid  string `json:"kid"`
	Alg  string `json:"alg"`
	Seed []byte `json:"seed,omitempty"` // the Ed25519 private seed, 32 bytes
	Pub  []byte `json:"pub,omitempty"`  // the public key, for verify-only keys
}

const keyFormatVersion = 1

// MarshalBinary encodes k as a small JSON document that the store keeps in
// a database table, so every instance finds the same keys and they survive
// restarts. A signing key's encoding contains its private seed: the table
// must be readable only by the service, like every other secret it holds.
func (k Key) MarshalBinary() ([]byte, error) {
	if k.id == "" || len(k.public) != ed25519.PublicKeySize {
		return nil, errors.New("marshal signing key: zero key")
	}
	j := keyJSON{V: keyFormatVersion, Kid: k.id, Alg: "EdDSA"}
	if k.private != nil {
		j.Seed = k.private.Seed()
	} else {
		j.Pub = k.public
	}
	return json.Marshal(j)
}

// ParseKey decodes a key written by MarshalBinary. Errors carry no domain
// code: a bad key in the database is a server fault, not a client's.
func ParseKey(b []byte) (Key, error) {
	var j keyJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Key{}, fmt.Errorf("parse signing key: %w", err)
	}
	if dec.More() {
		return Key{}, errors.New("parse signing key: trailing data")
	}
	if j.V != keyFormatVersion || j.Alg != "EdDSA" || !validKid(j.Kid) {
		return Key{}, fmt.Errorf("parse signing key: unsupported version %d, alg %q or kid", j.V, j.Alg)
	}
	switch {
	case len(j.Seed) == ed25519.SeedSize && j.Pub == nil:
		priv := ed25519.NewKeyFromSeed(j.Seed)
		return Key{id: j.Kid, private: priv, public: priv.Public().(ed25519.PublicKey)}, nil
	case len(j.Pub) == ed25519.PublicKeySize && j.Seed == nil:
		return Key{id: j.Kid, public: ed25519.PublicKey(j.Pub)}, nil
	}
	return Key{}, errors.New("parse signing key: need exactly one of a 32-byte seed or public key")
}

// validKid accepts 8 to 64 base64url characters, which covers NewKey's ids
// and keeps a kid from a token (attacker-chosen) short and printable.
func validKid(kid string) bool {
	if len(kid) < 8 || len(kid) > 64 {
		return false
	}
	for _, c := range []byte(kid) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// KeySet is what an instance signs and verifies access tokens with: one
// current signing key and any number of keys that only verify. A KeySet is
// immutable and safe for concurrent use; to change keys, build a new one
// and swap it in (an atomic.Pointer in the API).
//
// Rotation across stateless instances takes two steps, so no instance ever
// meets a token whose kid it does not know yet:
//  1. Store a new key and let every instance load it as a verify-only key.
//  2. Once all instances have reloaded, make it current; the old key becomes
//     verify-only. Delete it KeyRetention after it stopped signing.
//
// Removing a key from the set is also the emergency brake: every token it
// signed stops verifying at once.
type KeySet struct {
	current Key
	verify  map[string]ed25519.PublicKey
}

// NewKeySet returns a KeySet that signs with current and verifies tokens
// signed by current or any of others. current must hold its private half;
// key ids must be distinct.
func NewKeySet(current Key, others ...Key) (*KeySet, error) {
	if !current.CanSign() {
		return nil, errors.New("key set: current key cannot sign")
	}
	s := &KeySet{current: current, verify: make(map[string]ed25519.PublicKey, 1+len(others))}
	for _, k := range append([]Key{current}, others...) {
		if !validKid(k.id) || len(k.public) != ed25519.PublicKeySize {
			return nil, errors.New("key set: zero or invalid key")
		}
		if _, dup := s.verify[k.id]; dup {
			return nil, fmt.Errorf("key set: duplicate key id %q", k.id)
		}
		s.verify[k.id] = k.public
	}
	return s, nil
}

// SigningKeyID returns the kid of the key Sign uses.
func (s *KeySet) SigningKeyID() string { return s.current.id }

// publicKey returns the verification key named kid, if the set holds it.
func (s *KeySet) publicKey(kid string) (ed25519.PublicKey, bool) {
	k, ok := s.verify[kid]
	return k, ok
}
