package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// A secret the dashboard makes (an API key, a generated password) is
// shown once, on the page the form redirects to (POST/redirect/GET): a
// reload, the back button or another tab never shows it again. The cloud
// keeps only its hash, so the secret travels to that page in a cookie
// that lives a minute, is sent only to that page's path, and is cleared
// by the page that shows it. The cookie is sealed (AES-GCM) with a key
// derived from the session's secret and bound to the path: without the
// session it is noise, and it opens on no other page.

const (
	onceCookie = "pantry_once"
	onceMaxAge = 60 // seconds
)

// onceAEAD is the cipher sealing one session's one-time secrets.
func onceAEAD(c *fiber.Ctx) (cipher.AEAD, bool) {
	_, secret, ok := splitCookie(c.Cookies(sessionCookie))
	if !ok {
		return nil, false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("pantry dashboard one-time secret"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, false
	}
	aead, err := cipher.NewGCM(block)
	return aead, err == nil
}

// showOnce hands label and secret to the next GET of path, once.
func showOnce(c *fiber.Ctx, path, label, secret string) {
	aead, ok := onceAEAD(c)
	if !ok {
		return
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	sealed := aead.Seal(nonce, nonce, []byte(label+"\x00"+secret), []byte(path))
	c.Cookie(&fiber.Cookie{Name: onceCookie, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: path,
		MaxAge: onceMaxAge, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
}

// onceSecret is a secret shown once: what it is for, and itself.
type onceSecret struct {
	Label, Secret string
}

// takeOnce returns the secret handed to path, if any, and clears it: the
// next answer for path shows nothing.
func takeOnce(c *fiber.Ctx, path string) *onceSecret {
	raw := c.Cookies(onceCookie)
	if raw == "" {
		return nil
	}
	c.Cookie(&fiber.Cookie{Name: onceCookie, Value: "", Path: path, MaxAge: -1, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
	aead, ok := onceAEAD(c)
	sealed, err := base64.RawURLEncoding.DecodeString(raw)
	if !ok || err != nil || len(sealed) < aead.NonceSize() {
		return nil
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(path))
	if err != nil {
		return nil
	}
	label, secret, _ := strings.Cut(string(plain), "\x00")
	return &onceSecret{Label: label, Secret: secret}
}
